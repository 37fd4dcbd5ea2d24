"""The test runs' own machinery (tests/support/engines.py): a run id per pytest-xdist worker whose
objects the controller removes at the end, and an EventRecorder window that closes on a marker
event of its own instead of a fixed wait."""

import contextlib
import io
import re
import secrets
import time

import docker.errors
import pytest

from tests.support import engines
from tests.support.engines import BUSYBOX, TEST_LABEL, EventRecorder

pytestmark = pytest.mark.docker

ENGINE = "engine2"


def _wait(done, timeout, what):
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not in {timeout} s: {what}"
        time.sleep(0.05)


def _names(client, prefix):
    tags = [t for i in client.images.list() for t in i.tags]
    return sorted(
        [t.split("/", 1)[1].split(":")[0] for t in tags if t.startswith(f"saltext-chain/{prefix}")]
        + [v.name for v in client.volumes.list() if v.name.startswith(prefix)]
        + [n.name for n in client.networks.list() if n.name.startswith(prefix)]
        + [c.name for c in client.containers.list(all=True) if c.name.startswith(prefix)]
    )


def test_cleanup_session_removes_every_worker_run_of_the_session_and_nothing_else(docker_engines):
    session = "zs" + engines.RUN[:7]
    other = session + "x"  # not a worker run of the session: w<N> only
    with contextlib.closing(engines.client(ENGINE)) as client:
        try:
            for run in (f"{session}w0", f"{session}w11", other):
                labels = {TEST_LABEL: run}
                client.volumes.create(f"sc-{run}-vol", labels=labels)
                client.networks.create(f"sc-{run}-net", labels=labels)
                client.containers.create(BUSYBOX, ["true"], name=f"sc-{run}-ctr", labels=labels)
                dockerfile = f'FROM {BUSYBOX}\nLABEL {TEST_LABEL}="{run}"\n'
                client.images.build(
                    fileobj=io.BytesIO(dockerfile.encode()), tag=f"saltext-chain/sc-{run}-img:1"
                )
                # a child of the labelled image (a parent cannot be removed before it), and an
                # unlabelled image the chain built under the run's name (only the name tells)
                child = f"FROM saltext-chain/sc-{run}-img:1\nENV CHILD=1\n"
                client.images.build(
                    fileobj=io.BytesIO(child.encode()), tag=f"saltext-chain/sc-{run}-kid:1"
                )
                unlabelled = f"FROM {BUSYBOX}\nENV RUN={run}\n"
                client.images.build(
                    fileobj=io.BytesIO(unlabelled.encode()),
                    tag=f"saltext-chain/sc-{run}/app:1",
                )
            engines.cleanup_session(ENGINE, session)
            assert not [t for i in client.images.list() for t in i.tags if f"sc-{session}w" in t]
            assert _names(client, f"sc-{session}") == [
                f"sc-{other}-ctr",
                f"sc-{other}-img",
                f"sc-{other}-kid",
                f"sc-{other}-net",
                f"sc-{other}-vol",
                f"sc-{other}/app",
            ]
        finally:
            engines.cleanup(ENGINE, f"{TEST_LABEL}={other}")
            for tag in ("kid", "img"):
                with contextlib.suppress(docker.errors.ImageNotFound):
                    client.images.remove(f"saltext-chain/sc-{other}-{tag}:1")
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(f"saltext-chain/sc-{other}/app:1")
        assert _names(client, f"sc-{session}") == []


def test_recorder_sees_the_last_action_before_the_block_ends_and_not_its_marker(docker_engines):
    name = engines.name("rec-last")
    with contextlib.closing(engines.client(ENGINE)) as client:
        with EventRecorder(ENGINE) as rec:
            client.containers.create(BUSYBOX, ["true"], name=name, labels=dict(engines.LABELS))
            client.containers.get(name).remove()
        # owned_only: this run's objects, the marker volume (sc-<RUN>-evmark-...) included
        assert rec.mutations(owned_only=True) == [
            ("container", "create", name),
            ("container", "destroy", name),
        ]
        assert not [e for e in rec.events if "evmark" in str(e)], rec.events
        # The marker volume is gone again.
        assert not [
            v for v in client.volumes.list() if "-evmark-" in v.name and engines.RUN in v.name
        ]
        with EventRecorder(ENGINE) as rec:
            pass
        assert rec.mutations(owned_only=True) == []


@pytest.mark.parametrize("whose", ["ours", "another run's"])
def test_a_removed_image_and_an_anonymous_volume_belong_to_whoever_held_them(docker_engines, whose):
    """The engine names both only by id: another run's removals (beside this one, on xdist
    workers or in the integration process) do not count; this run's do."""
    run = engines.RUN if whose == "ours" else "zr" + engines.RUN[:7]
    tag = f"saltext-chain/sc-{run}-alias"
    with contextlib.closing(engines.client(ENGINE)) as client:
        client.images.get(BUSYBOX).tag(tag, "t")  # an alias: the image keeps BUSYBOX's tag
        with EventRecorder(ENGINE) as rec:
            client.images.remove(f"{tag}:t")
        ctr = client.api.create_container(
            BUSYBOX, ["true"], name=f"sc-{run}-anon", labels={TEST_LABEL: run}, volumes=["/data"]
        )
        with EventRecorder(ENGINE) as rec2:
            client.api.remove_container(ctr["Id"], v=True, force=True)
    untag = [m for m in rec.mutations(everything=True) if m[:2] == ("image", "untag")]
    destroy = [m for m in rec2.mutations(everything=True) if m[:2] == ("volume", "destroy")]
    assert untag and destroy, (rec.events, rec2.events)  # the controls: the engine showed both
    if whose == "ours":
        assert untag[0] in rec.mutations() and untag[0] in rec.mutations(owned_only=True)
        assert destroy[0] in rec2.mutations() and destroy[0] in rec2.mutations(owned_only=True)
    else:
        assert untag[0] not in rec.mutations() and destroy[0] not in rec2.mutations()


@pytest.mark.parametrize("whose", ["ours", "another run's"])
def test_a_reference_pulled_and_removed_in_the_window_belongs_to_who_pulled_it(
    docker_engines, registry_credentials, whose
):
    """A pull names only the reference, never the image id, and the untag that takes the pulled
    reference names only the id: the integration process pulling and removing its own reference
    of the shared busybox image, while a functional test's window was open, once counted as the
    functional test's. Another run's pull-and-remove does not count; this run's does."""
    run = engines.RUN if whose == "ours" else "zp" + engines.RUN[:7]
    repo = f"{engines.REGISTRY}/saltext-chain/sc-{run}-pulled"
    auth = dict(registry_credentials)
    with contextlib.closing(engines.client(ENGINE)) as client:
        client.images.get(BUSYBOX).tag(repo, "1")
        try:
            for line in client.images.push(repo, "1", auth_config=auth, stream=True, decode=True):
                assert "error" not in line, line
            client.images.remove(f"{repo}:1")
            with EventRecorder(ENGINE) as rec:
                client.images.pull(repo, "1", auth_config=auth)
                client.images.remove(f"{repo}:1")
        finally:
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(f"{repo}:1")
    untags = [m for m in rec.mutations(everything=True) if m[:2] == ("image", "untag")]
    assert untags, rec.events  # the control: the engine showed the untag
    if whose == "ours":
        assert all(m in rec.mutations() for m in untags), rec.events
    else:
        assert not [m for m in rec.mutations() if m[:2] == ("image", "untag")], rec.events


def test_a_read_exec_is_a_read_only_when_the_caller_says_so(docker_engines):
    """The recorder's ``read_exec``: an exec whose command matches is not a mutation, any other
    exec still is (the positive control)."""
    cli = engines.client("engine1")
    name = engines.name("read-exec")
    box = cli.containers.run(
        engines.BUSYBOX,
        engines.stoppable("sleep 60"),
        name=name,
        labels=engines.LABELS,
        detach=True,
    )
    try:
        with engines.EventRecorder("engine1") as rec:
            box.exec_run(["echo", "show stat"])
            box.exec_run(["touch", "/tmp/written"])
        reads = r"\bshow (servers state [\w.-]+|stat)\s*$"
        # (other test processes act on the engine meanwhile: only this container's events)
        mine = [m for m in rec.mutations(read_exec=reads) if m[2] == name]
        assert mine == [("container", "exec_create", name)]
        assert len([m for m in rec.mutations() if m[2] == name]) == 2
    finally:
        box.remove(force=True, v=True)
        cli.close()


def test_an_anonymous_volume_created_at_the_end_of_the_window_belongs_to_its_container(
    docker_engines,
):
    """A container created (not started) in the window makes an anonymous volume that nothing
    mounts before the window closes: its owner is the container that holds it when the window
    closes. Another run's is foreign; ours counts (the positive control)."""
    cli = engines.client("engine1")
    other = {TEST_LABEL: "zz" + engines.RUN[:4]}
    made = []
    try:
        with engines.EventRecorder("engine1") as rec:
            for labels, tag in ((other, "theirs"), (engines.LABELS, "ours")):
                made.append(
                    cli.api.create_container(
                        BUSYBOX,
                        "true",
                        name=f"sc-{labels[TEST_LABEL]}-anon-{tag}",
                        labels=labels,
                        volumes=["/data"],
                        host_config=cli.api.create_host_config(),
                    )["Id"]
                )
        created = [m for m in rec.mutations() if m[:2] == ("volume", "create")]
        assert len(created) == 1, rec.mutations()
        assert ("container", "create", f"sc-{engines.RUN}-anon-ours") in rec.mutations()
        assert not [m for m in rec.mutations() if "theirs" in str(m[2])], rec.mutations()
    finally:
        for cid in made:
            # Started before removal: a volume mounted by its container can be attributed by
            # the windows of other test processes (created and destroyed unmounted, it could
            # not: nothing names its container).
            with contextlib.suppress(docker.errors.APIError):
                cli.api.start(cid)
                cli.api.wait(cid, timeout=30)
            cli.api.remove_container(cid, v=True, force=True)
        cli.close()


def _removal(rec, image_id, history):
    """The untag and deletes of the removal of ``image_id`` (its layers: ``history``, the
    engine's answer before the removal), in the order the engine logged them."""
    ours = {image_id} | {h["Id"] for h in history if h["Id"].startswith("sha256:")}
    return [
        e
        for e in rec.events
        if e.get("Type") == "image"
        and e["Actor"]["ID"] in ours
        and e["Action"] in ("untag", "delete")
    ]


def _stretch(rec, removal, step, gap=0):
    """Re-time ``removal`` to ``step`` seconds between its steps (plus ``gap`` before its
    layers), as a loaded engine shows them; what really came after it still comes after it
    (another test's removal a second later is stretched past it, not overtaken and read as one
    of its steps)."""
    start, end = removal[0]["timeNano"], removal[-1]["timeNano"]
    for i, e in enumerate(removal):
        e["timeNano"] = start + int(i * step * 1e9) + (int(gap * 1e9) if i >= 2 else 0)
    for e in rec.events:
        if e.get("timeNano", 0) > end and not any(e is r for r in removal):
            e["timeNano"] += removal[-1]["timeNano"] - end


@pytest.mark.parametrize("timing", ["as it came", "10 s between steps", "beside a pull"])
@pytest.mark.parametrize("whose", ["theirs", "ours"])
def test_the_layers_removed_with_an_image_built_in_the_window_go_with_it(
    docker_engines, tmp_path, whose, timing
):
    """An image built after the window opened and removed in it: its untagged parent layers are
    deleted by id in the same request, and nobody held them when the window opened. They go
    with the image, whose links the recorder looked up while the build ran: another run's
    removal is foreign; ours counts (the positive control), however slow the removal."""
    run = "zz" + engines.RUN[:4] if whose == "theirs" else engines.RUN
    tag = f"saltext-chain/sc-{run}-cascade:1"
    (tmp_path / "Dockerfile").write_text(
        f'FROM {BUSYBOX}\nRUN echo one > /one\nRUN echo two > /two\nLABEL {TEST_LABEL}="{run}"\n'
    )
    cli = engines.client("engine1")
    try:
        with engines.EventRecorder("engine1") as rec:
            image, _ = cli.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True)
            history = cli.api.history(image.id)  # a read: no event
            # the recorder's lookups of the build's links, before the removal: under load they
            # come after it (ci55) and learn nothing; that lost race is the slow-removal
            # test's (the timing rule), here the links decide
            layers = {h["Id"] for h in history[:3]}
            _wait(lambda: layers <= set(rec._lineage), 30, rec._lineage)
            cli.images.remove(tag, force=True)
        removal = _removal(rec, image.id, history)
        deletes = [e for e in removal if e["Action"] == "delete"]
        assert len(deletes) >= 3, deletes  # the image and its two RUN layers
        assert {e["Actor"]["ID"] for e in deletes[1:]} <= set(rec._lineage), rec._lineage
        if timing == "10 s between steps":
            _stretch(rec, removal, step=10)
        elif timing == "beside a pull":  # another worker pulled a reference nobody owns, gone
            pulled = f"127.0.0.1:5000/nobody-{engines.RUN}/app:1"  # when the window closed
            rec.events.append(
                {
                    "Type": "image",
                    "Action": "pull",
                    "Actor": {"ID": pulled, "Attributes": {"name": pulled}},
                    "timeNano": removal[0]["timeNano"],
                }
            )
        # this removal's events only: another session's removal in the window (its session's
        # cleanup, ci64) is not this test's, and the pull added above may claim it
        mine = {e["Actor"]["ID"] for e in removal} | {
            (e["Actor"].get("Attributes") or {}).get("name") for e in removal
        }
        removals = [
            m
            for m in rec.mutations()
            if m[0] == "image" and m[1] in ("untag", "delete") and m[2] in mine
        ]
        if whose == "theirs":
            assert removals == [], removals
        else:
            assert len([m for m in removals if m[1] == "delete"]) == len(deletes), removals
            assert len(removals) == len(removal), (removals, removal)
    finally:
        with contextlib.suppress(Exception):
            cli.images.remove(tag, force=True)
        cli.close()


@pytest.mark.parametrize("began", ["before the window", "in the window"])
def test_a_removal_that_began_before_the_window_opened_is_not_the_windows(
    docker_engines, tmp_path, began
):
    """Under load, an engine's removal of an image with many layers can straddle the opening of
    a window: the untag before it, the deletes of the image (untagged when the window opened)
    and of its layers in it. A call of the window starts in it and is waited for, so such a
    removal is someone else's. Real events of a removal, split at its first delete as a loaded
    engine showed them; the control: the same deletes with nothing before them count."""
    tag = f"saltext-chain/sc-zz{engines.RUN[:4]}-straddle:1"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BUSYBOX}\nRUN echo {engines.RUN} > /one\nRUN echo two > /two\n"
    )
    cli = engines.client("engine1")
    try:
        cli.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True)
        with engines.EventRecorder("engine1") as rec:
            cli.images.remove(tag, force=True)
        removal = [e for e in rec.events if e.get("Type") == "image"]
        first = next(i for i, e in enumerate(removal) if e["Action"] == "delete")
        assert first >= 1 and len(removal) - first >= 2, removal  # untag; image, a layer
        image_id = removal[first]["Actor"]["ID"]
        rec._images[image_id]["tags"] = []  # untagged as the window opened
        rec.before = removal[:first] if began == "before the window" else []
        rec.events = removal[first:]
        deletes = [m for m in rec.mutations() if m[:2] == ("image", "delete")]
        if began == "before the window":
            assert deletes == [], deletes
        else:
            assert len(deletes) == len(removal) - first, deletes
    finally:
        with contextlib.suppress(Exception):
            cli.images.remove(tag, force=True)
        cli.close()


@pytest.mark.parametrize("case", ["theirs", "theirs after a gap", "ours"])
def test_a_slow_removal_keeps_its_layers_however_long_it_takes(docker_engines, tmp_path, case):
    """Under load the deletes of a removal's layers come seconds after its untag, each a step
    after the last. Layers of an image built after the window opened whose links the recorder
    could not look up (the removal won the race) have no holder known: they go with the removal
    however long the whole takes, as long as no two steps are further apart than a removal's
    steps ever are. Another run's removal is foreign; after a gap, or ours, they count (the
    controls). Real events of a build and removal in the window, the links forgotten, the
    removal re-timed to 1.5 s between steps as a loaded engine showed them (from the untag to
    the last delete: 6 s and more)."""
    run = engines.RUN if case == "ours" else "zs" + engines.RUN[:4]
    tag = f"saltext-chain/sc-{run}-slow:1"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BUSYBOX}\nRUN echo {engines.RUN} > /one\nRUN echo two > /two\n"
        f"RUN echo three > /three\nLABEL {TEST_LABEL}={run}\n"
    )
    cli = engines.client("engine1")
    try:
        with engines.EventRecorder("engine1") as rec:
            image, _ = cli.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True)
            history = cli.api.history(image.id)  # a read: no event
            cli.images.remove(tag, force=True)
        rec._lineage.clear()  # as when the removal won the race against the lookups
        removal = _removal(rec, image.id, history)
        assert [e["Action"] for e in removal[:2]] == ["untag", "delete"], removal
        assert len(removal) >= 5, removal  # untag; the image and its three RUN layers
        _stretch(rec, removal, step=1.5, gap=3 if case == "theirs after a gap" else 0)
        counted = [m for m in rec.mutations() if m[:2] == ("image", "delete")]
        layers = len(removal) - 2
        if case == "theirs":
            assert counted == [], counted
        elif case == "theirs after a gap":  # the image's own delete is known theirs
            assert len(counted) == layers, counted
        else:
            assert len(counted) == layers + 1, counted
    finally:
        with contextlib.suppress(Exception):
            cli.images.remove(tag, force=True)
        cli.close()


@pytest.mark.parametrize("labels", ["the chain's", "nobody's"])
def test_a_dangling_image_removed_by_id_belongs_to_its_labels(docker_engines, tmp_path, labels):
    """A dangling image (its tag moved on to a rebuild) is removed by id: no reference names
    it, its labels do. The chain's (its commit label) is foreign; one with no owner label
    counts (the control). The image carries this run's label, so that every other window open
    meanwhile knows it for ours; the recorder under test sees the labels of the case, and no
    removal before the window (a removal ending as it opened takes a delete just after it for
    its own last step, as the straddling-removal test shows)."""
    (tmp_path / "Dockerfile").write_text(
        f'FROM {BUSYBOX}\nRUN echo {engines.RUN} > /one\nLABEL {TEST_LABEL}="{engines.RUN}"\n'
    )
    cli = engines.client("engine1")
    image = cli.images.build(path=str(tmp_path), rm=True, forcerm=True)[0]  # untagged
    try:
        with engines.EventRecorder("engine1") as rec:
            cli.images.remove(image.id)
        deletes = [e for e in rec.events if e.get("Type") == "image" and e["Action"] == "delete"]
        assert len(deletes) >= 2 and not [  # the image and its RUN layer; no untag: no tag
            e for e in rec.events if e.get("Type") == "image" and e["Action"] == "untag"
        ], rec.events
        seen = {"org.saltext-chain.commit": "0123abc"} if labels == "the chain's" else {}
        rec._images[image.id]["labels"] = seen
        rec.before = []  # the removals of the tests before this one are not this case's
        counted = [m for m in rec.mutations(owned_only=True) if m[:2] == ("image", "delete")]
        assert counted == ([] if seen else counted) and (seen or len(counted) == len(deletes)), (
            counted
        )
    finally:
        with contextlib.suppress(Exception):
            cli.images.remove(image.id, force=True)
        cli.close()


@pytest.mark.parametrize("whose", ["theirs", "ours"])
def test_an_unmounted_anonymous_volume_goes_with_the_container_made_and_removed_with_it(
    docker_engines, whose
):
    """Created and removed (``rm -v``) without a start, a container's anonymous volume is never
    mounted: nothing names its container. It goes with the container created or destroyed in
    the same request: another run's is foreign; ours counts (the positive control)."""
    run = "zz" + engines.RUN[:4] if whose == "theirs" else engines.RUN
    cli = engines.client("engine1")
    try:
        with engines.EventRecorder("engine1") as rec:
            cid = cli.api.create_container(
                BUSYBOX,
                "true",
                name=f"sc-{run}-anon-rm",
                labels={TEST_LABEL: run},
                volumes=["/data"],
                host_config=cli.api.create_host_config(),
            )["Id"]
            cli.api.remove_container(cid, v=True, force=True)
        volumes = [e for e in rec.events if e.get("Type") == "volume"]
        assert {e["Action"] for e in volumes} >= {"create", "destroy"}, volumes
        counted = [m for m in rec.mutations() if m[0] == "volume"]
        assert counted == ([] if whose == "theirs" else counted) and (
            whose == "theirs" or len(counted) >= 2
        ), counted
    finally:
        cli.close()


# ------------------------------------------------- owned_only: shared objects (positive controls)


def test_owned_only_sees_a_shared_images_pull_tag_untag_and_delete(
    docker_engines, registry_credentials, monkeypatch
):
    """``owned_only`` (the contract and property suites' guard) counts this run's objects and
    shared ones: a test-mode pull, tag, untag or delete of busybox or a base image is a mutation
    although no run names the image. The image here carries this run's label, so that every
    other window open meanwhile knows it for ours; the recorder under test is made blind to that
    label (``TEST_LABEL`` renamed): to it, the image is a shared one. Another run's image
    (its label seen) never counts."""
    auth = dict(registry_credentials)
    local = f"saltext-chain/shared-ctl-{engines.RUN}"  # no sc-<run>- name: only the label
    remote = f"{engines.REGISTRY}/{local}"
    dockerfile = f'FROM {BUSYBOX}\nLABEL {TEST_LABEL}="{engines.RUN}"\n'
    with contextlib.closing(engines.client(ENGINE)) as client:
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=f"{remote}:1", rm=True)
        try:
            for line in client.images.push(remote, "1", auth_config=auth, stream=True, decode=True):
                assert "error" not in line, line
            client.images.remove(f"{remote}:1")  # the image is gone: the pull brings it back
            with EventRecorder(ENGINE) as rec:
                client.images.pull(remote, "1", auth_config=auth)
                client.images.get(f"{remote}:1").tag(local, "2")
                client.images.remove(f"{local}:2")  # an untag (the image keeps its other tag)
                client.images.remove(f"{remote}:1")  # the last tag: untag and delete
        finally:
            for ref in (f"{remote}:1", f"{local}:2"):
                with contextlib.suppress(docker.errors.ImageNotFound):
                    client.images.remove(ref, force=True)
    seen = {m[1] for m in rec.mutations(everything=True) if m[0] == "image"}
    assert seen >= {"pull", "tag", "untag", "delete"}, rec.events  # the engine showed them all
    # Labelled with this run: ours in both modes.
    assert {m[1] for m in rec.mutations(owned_only=True) if m[0] == "image"} == seen
    # Labelled with another run: foreign in both modes.
    monkeypatch.setattr(engines, "RUN", "zo" + engines.RUN[:7])
    assert [m for m in rec.mutations(owned_only=True) if m[0] == "image"] == []
    monkeypatch.undo()
    # Shared (the label hidden from the recorder): counted in owned_only mode too.
    monkeypatch.setattr(engines, "TEST_LABEL", "saltext-chain.test-hidden")
    assert {m[1] for m in rec.mutations() if m[0] == "image"} == seen
    assert {m[1] for m in rec.mutations(owned_only=True) if m[0] == "image"} == seen, rec.events


def test_owned_only_sees_an_anonymous_volume_no_container_holds(docker_engines):
    """A volume the engine names (64 hex digits) that no container mounts: made and removed by
    a test-mode run, it is a mutation in ``owned_only`` mode too. It is made beside a container
    of this run's (create and destroy within the same seconds), so that the windows of other
    runs take it for ours."""
    box = engines.name("anon-near")
    with contextlib.closing(engines.client(ENGINE)) as client:
        with EventRecorder(ENGINE) as rec:
            cid = client.api.create_container(BUSYBOX, ["true"], name=box, labels=engines.LABELS)
            vol = client.api.create_volume()["Name"]  # no name: the engine's 64 hex digits
            client.api.remove_volume(vol)
            client.api.remove_container(cid["Id"], force=True, v=True)
    assert re.fullmatch(r"[0-9a-f]{64}", vol), vol
    made = [("volume", "create", vol), ("volume", "destroy", vol)]
    assert all(m in rec.mutations(everything=True) for m in made), rec.events  # the control
    assert all(m in rec.mutations(owned_only=True) for m in made), rec.mutations(owned_only=True)
    # Beside another run's container, the same volume is that run's (its windows' view).
    monkeypatch = pytest.MonkeyPatch()
    try:
        monkeypatch.setattr(engines, "RUN", "zo" + engines.RUN[:7])
        assert not [m for m in rec.mutations(owned_only=True) if m[0] == "volume"]
        assert not [m for m in rec.mutations() if m[0] == "volume"]
    finally:
        monkeypatch.undo()


def test_the_chains_app_image_is_make_chains_in_both_modes(docker_engines):
    """The chain's app images carry ``org.saltext-chain.commit`` (formulas/chain/image.sls) and no
    run's name or label: their tag, untag and delete by ``make chain`` beside a test are
    foreign (the control: the engine showed them)."""
    tag = f"saltext-chain/chainlike-{engines.RUN}"
    dockerfile = f"FROM {BUSYBOX}\nLABEL org.saltext-chain.commit={engines.RUN}\n"
    with contextlib.closing(engines.client(ENGINE)) as client:
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=f"{tag}:1", rm=True)
        try:
            with EventRecorder(ENGINE) as rec:
                client.images.get(f"{tag}:1").tag(tag, "2")
                client.images.remove(f"{tag}:2")
                client.images.remove(f"{tag}:1")
        finally:
            for ref in (f"{tag}:1", f"{tag}:2"):
                with contextlib.suppress(docker.errors.ImageNotFound):
                    client.images.remove(ref, force=True)
    seen = {m[1] for m in rec.mutations(everything=True) if m[0] == "image"}
    assert seen >= {"tag", "untag", "delete"}, rec.events
    assert [m for m in rec.mutations() if m[0] == "image"] == []
    assert [m for m in rec.mutations(owned_only=True) if m[0] == "image"] == []


class _UntagDuringSnapshot(EventRecorder):
    """A recorder whose opening snapshot is met by another owner's untag, as happens under load
    while a long image list is read: the untag lands just before the list is read."""

    def __init__(self, engine, untag):
        super().__init__(engine)
        self._untag = untag

    def _snapshot(self):
        self._untag()
        super()._snapshot()


def test_an_untag_that_meets_the_windows_opening_snapshot_is_not_the_windows(docker_engines):
    """Another run's untag while the window opens (ci40: an agent image's tag, counted as ours
    in test_highstate's window): the snapshot is taken before the window starts, so the untag
    comes before it. The image keeps a tag nobody is known to own, so an untag in the window
    whose reference the snapshot missed would count. The control: the same untag inside the
    block counts as well-identified theirs, and one of ours counts."""
    cli = engines.client(ENGINE)
    image = cli.images.get(BUSYBOX)
    keep = f"saltext-chain/nobodys-{engines.RUN}:keep"  # no run in the name: nobody known
    theirs = f"saltext-chain/sc-zz{engines.RUN[:4]}-straddle:1"
    ours = f"saltext-chain/{engines.name('straddle')}:1"
    try:
        for tag in (keep, theirs, ours):
            assert image.tag(tag)
        with _UntagDuringSnapshot(ENGINE, lambda: cli.images.remove(theirs)) as rec:
            pass
        assert [m for m in rec.mutations() if m[0] == "image"] == []
        assert image.tag(theirs)
        with EventRecorder(ENGINE) as rec:
            cli.images.remove(theirs)  # in the window, its reference known: theirs
        assert [m for m in rec.mutations() if m[0] == "image"] == []
        with EventRecorder(ENGINE) as rec:
            cli.images.remove(ours)  # the positive control
        assert [m[:2] for m in rec.mutations() if m[0] == "image"] == [("image", "untag")]
    finally:
        for tag in (keep, theirs, ours):
            with contextlib.suppress(docker.errors.ImageNotFound):
                cli.images.remove(tag)
        cli.close()


@pytest.mark.parametrize("whose", ["ours", "another run's"])
def test_a_kept_volume_removed_after_its_container_went_before_the_window_is_its_owners(
    docker_engines, whose
):
    """A volume a recreate kept is mounted by name, so ``rm -v`` leaves it: the cleanup
    (``_remove``) removes it right after its container, and a window of another run may open
    between the two. Its owner is the container's, which the window never saw alive: the
    engine's unmount of the volume (just before the window) names it. (A container never
    started never mounted it: such a volume is not told apart, and counts.)"""
    run = engines.RUN if whose == "ours" else "zk" + engines.RUN[:7]
    volume = secrets.token_hex(32)  # named as the engine names one: 64 hex digits
    with contextlib.closing(engines.client(ENGINE)) as client:
        client.volumes.create(volume)
        try:
            ctr = client.containers.create(
                BUSYBOX,
                engines.stoppable("sleep 300"),
                name=f"sc-{run}-kept",
                labels={TEST_LABEL: run},
                volumes={volume: {"bind": "/data", "mode": "rw"}},
            )
            ctr.start()
            ctr.remove(force=True, v=True)
            assert volume in [v.name for v in client.volumes.list()]  # rm -v left it
            with EventRecorder(ENGINE) as rec:
                client.api.remove_volume(volume)
        finally:
            with contextlib.suppress(docker.errors.NotFound):
                client.api.remove_volume(volume)
    destroy = [m for m in rec.mutations(everything=True) if m[:2] == ("volume", "destroy")]
    assert destroy == [("volume", "destroy", volume)], rec.events  # the control
    if whose == "ours":
        assert destroy[0] in rec.mutations() and destroy[0] in rec.mutations(owned_only=True)
    else:
        assert destroy[0] not in rec.mutations() and destroy[0] not in rec.mutations(
            owned_only=True
        )
