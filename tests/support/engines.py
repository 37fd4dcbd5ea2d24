"""The two local Docker engines the tests use, and what they saw happen.

`scripts/bootstrap` starts both: engine 1 on the default socket, engine 2 (the second "host")
on its own socket, data root and bridge.
"""

import contextlib
import os
import re
import secrets
import threading
import time

import docker
from saltext.chain.utils.chain_docker_spec import engine_named

ENGINES = {
    "engine1": "unix:///var/run/docker.sock",
    "engine2": "unix:///run/saltext-chain/docker2.sock",
}
TEST_LABEL = "saltext-chain.test"
# This test process's id: every object a test creates carries ``TEST_LABEL=RUN`` and a name from
# ``name()``, and cleanup removes only objects with this run's label. Two sessions (or a running
# ``make chain``) on the same engines never see or remove each other's objects.
# Export CHAIN_TEST_RUN to pin it (e.g. to clean up after a crashed run).
# Under pytest-xdist each worker is a run of its own, ``<SESSION>w<N>``: the test-mode guards of
# one worker never take another worker's objects for their own. SESSION is shared by the
# workers of one session (xdist's test run uid); the controller's cleanup removes every
# ``<SESSION>w<N>`` run (``cleanup_session``).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ... in an xdist worker
SESSION = (
    os.environ.get("CHAIN_TEST_RUN")
    or (os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:6] if _WORKER else "")
    or secrets.token_hex(3)
).lower()
RUN = SESSION + (f"w{_WORKER.removeprefix('gw')}" if _WORKER else "")
if not re.fullmatch(r"[a-z0-9]{1,12}", RUN):
    raise ValueError(
        f"CHAIN_TEST_RUN must be 1-12 lowercase letters/digits (at most 9 under pytest-xdist, "
        f"which appends w<N> per worker), not {SESSION!r}"
    )
LABELS = {TEST_LABEL: RUN}
# The marker volume an EventRecorder creates to close its window (any run's): never an event
# of the window it closes, nor of anyone else's.
# Seconds of the engine's events read before a window opens, to attribute what straddles it.
CONTEXT = 15
_MARKER = re.compile(r"^sc-[a-z0-9]+-evmark-[0-9a-f]{8}$")
BUSYBOX = "saltext-chain/busybox:latest"
DEBIAN = "saltext-chain/debian:bookworm"
REGISTRY = "127.0.0.1:5000"

# Engine actions that change something. None may happen during a test=True run.
MUTATING_ACTIONS = {
    "container": {
        "create",
        "start",
        "stop",
        "kill",
        "die",
        "destroy",
        "rename",
        "update",
        "restart",
        "pause",
        "unpause",
        "exec_create",
    },  # exec_create: unless it is a health check
    "image": {"pull", "push", "tag", "untag", "delete", "import", "load", "build"},
    "network": {"create", "connect", "disconnect", "destroy", "remove"},
    "volume": {"create", "mount", "unmount", "destroy"},
}
# Names another test run owns: sc-<other run>-..., also inside image references (repo/sc-x-...).
_RUN_NAME = re.compile(r"(?:^|/)sc-([a-z0-9]+)[-/:]")
# The label `make chain`'s formulas put on what they create (containers, networks, volumes).
CHAIN_LABEL = "org.saltext-chain.formula"
# The labels that make an object the chain's: its formulas' label, and the commit label of the
# chain's app images (formulas/chain/image.sls), which their image events show. Not every
# ``org.saltext-chain.*`` label: bootstrap's base images carry ``org.saltext-chain.inputs``, and
# what is built on them inherits it (they are shared, nobody's).
CHAIN_LABELS = (CHAIN_LABEL, "org.saltext-chain.commit")
# A name the engine generated (adjective_surname): the project and the tests name every container
# they create, so such a container is a step of someone's classic image build (another session's
# build; a build of ours shows as the build/tag events of our image name).
_GENERATED_NAME = re.compile(r"^[a-z]+_[a-z]+$")


def name(base=""):
    """A name unique to this run: ``name("web")`` -> ``sc-<RUN>-web``."""
    return f"sc-{RUN}-{base}" if base else f"sc-{RUN}"


def stoppable(script):
    """``sh -c SCRIPT`` as a test container's command, ending at once on ``docker stop``.

    The main process of a container is its PID 1, which ignores SIGTERM unless it handles it:
    a bare ``sleep 600`` or ``httpd -f`` sits out the whole stop grace period (10 s by default)
    and is then killed, so every graceful stop, recreate or removal of such a container cost a
    test that long. Here the shell traps TERM and exits; the stop is still the graceful one.
    The last command of SCRIPT runs in the background (the shell waits for it)."""
    return ["sh", "-c", f"trap 'exit 0' TERM; {script} & wait"]


def owned(labels=None):
    """``labels`` plus this run's ownership label (for containers, networks, volumes)."""
    return {**(labels or {}), **LABELS}


def client(engine):
    return docker.DockerClient(base_url=ENGINES[engine], version="auto", timeout=60)


class EventRecorder:
    """Records the engine's event stream inside a ``with`` block.

    ``mutations()`` lists the events that change something, leaving out:
    - objects another owner made: another test run (label ``TEST_LABEL`` with another value, or a
      ``sc-<other run>-`` name) or ``make chain`` (its formula label without this run's label),
      including network connects/volume mounts of such containers: two test sessions, or a test
      session beside a running ``make chain``, share the engines;
    - health-check execs (``exec_create`` whose command is the container's HEALTHCHECK): the
      engine's own. Any other exec counts.
    The engine names a removed image (untag, delete) and an anonymous volume only by their ids:
    those belong to whoever held them, the image's tags and the volume's container, as seen when
    the window opened or in the window (a tag, a mount); a layer of an image built in the window
    goes with that image (its links looked up as the build ran: ``_learn``); held by nobody
    known, they count.
    """

    def __init__(self, engine):
        self.engine = engine
        self.events = []

    def __enter__(self):
        self._client = client(self.engine)
        self._marker = name(f"evmark-{secrets.token_hex(4)}")
        # The snapshot before the window's start: an untag by another owner while the images
        # are listed (a long list, under load) then comes before the window, not inside it
        # with its reference already missing from the snapshot (nobody known: it would count).
        self._snapshot()
        self._since = time.time()
        self._seen = []
        self._lineage = {}  # child id -> parent id of images made in the window (_learn)
        self._lookup = client(self.engine)  # the reader's own: docker-py clients are not shared
        self._closed = threading.Event()
        # The stream replays the engine's events from `since` (whole seconds, filtered below)
        # and goes on live: nothing of the window is missed however long the block runs.
        # It starts CONTEXT seconds earlier: a removal another owner began just before the
        # window opened (an image's untag, then its layers' deletes) is told apart by its start.
        self._stream = self._client.api.events(since=int(self._since - CONTEXT), decode=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _snapshot(self):
        """An image's tags by id and an anonymous volume's container, as the window opens."""
        # all=True: a build's untagged parent layers too, which go with the image they carry.
        self._images = {
            img["Id"]: {
                "tags": _references(img),
                "labels": img.get("Labels") or {},
                "parent": img.get("ParentId") or "",
            }
            for img in self._client.api.images(all=True)
        }
        self._volume_holders = {}
        self._volume_holders_after = {}
        for ctr in self._client.api.containers(all=True):
            holder = {**(ctr.get("Labels") or {}), "name": (ctr.get("Names") or ["/"])[0][1:]}
            for mount in ctr.get("Mounts") or []:
                if mount.get("Type") == "volume" and mount.get("Name"):
                    self._volume_holders[mount["Name"]] = holder

    def _holders(self, e):
        """Who holds an object the event names only by id: [("container", id) | ("attrs",
        labels + name)], [] when nobody known; None for an event that names its object."""
        actor = (e.get("Actor") or {}).get("ID", "")
        if (
            e.get("Type") == "image"
            and (_attrs(e).get("name") or actor).startswith("sha256:")
            and TEST_LABEL not in _attrs(e)
        ):
            return self._image_holders(actor, _action(e))
        if e.get("Type") == "volume" and engine_named(actor):
            cids = {
                _attrs(x)["container"]
                for x in [*getattr(self, "removed_before", ()), *self.events]
                if x.get("Type") == "volume" and x["Actor"]["ID"] == actor
                and _attrs(x).get("container")
            }  # fmt: skip
            held = [h for h in (self._volume_holders.get(actor),) if h]
            # A volume created at the end of the window is mounted after it closed: its
            # container, found when the window closed, holds it.
            held += self._volume_holders_after.get(actor, [])
            return [("container", cid) for cid in sorted(cids)] + [("attrs", h) for h in held]
        return None

    def _image_holders(self, image_id, action):
        """The tags and run labels of an image, as the window opened or tagged in it. A delete
        also takes the untagged parent layers of the image deleted: those belong to the images
        built on them that are gone when the window closed."""
        children = {}
        for iid, info in self._images.items():
            children.setdefault(info["parent"], []).append(iid)
        for iid, parent in self._lineage.items():
            if iid not in self._images:
                children.setdefault(parent, []).append(iid)
        holders, seen, todo = [], set(), [image_id]
        while todo:
            iid = todo.pop()
            if iid in seen:
                continue
            seen.add(iid)
            info = self._images.get(iid) or {"tags": [], "labels": {}}
            tags = set(info["tags"]) | {
                _attrs(x).get("name")
                for x in self.events
                if x.get("Type") == "image" and _action(x) == "tag" and x["Actor"]["ID"] == iid
            }
            if iid == image_id:
                # An untag names no reference: the one it took is the one gone when the window
                # closed. A reference pulled in the window has no tag event (a pull names only
                # the reference, not the image id): the pulled ones that are gone when the
                # window closed, from every image, are candidates too.
                # Only an image untagged in the window can be one pulled in it: a layer deleted
                # with an image built on it has no untag (ci53: another worker's pull in the
                # window took the layers of this window's build).
                present_after = {r for refs in self._images_after.values() for r in refs}
                untagged = any(
                    x.get("Type") == "image" and _action(x) == "untag" and x["Actor"]["ID"] == iid
                    for x in self.events
                )
                pulled_gone = {
                    _attrs(x).get("name") or x["Actor"]["ID"]
                    for x in self.events
                    if untagged and x.get("Type") == "image" and _action(x) == "pull"
                } - present_after
                tags = ((tags - set(self._images_after.get(iid, ()))) | pulled_gone) or tags
            holders += [
                ("attrs", self._tag_holder(tag, iid, info["labels"]))
                for tag in sorted(t for t in tags if t)
            ]
            owner = {
                k: v for k, v in info["labels"].items() if k == TEST_LABEL or k in CHAIN_LABELS
            }
            if owner:
                # Its owner's labels hold it, tagged or not: a dangling image (its tag moved
                # to a rebuild) is removed by id, with no reference left to name it.
                holders.append(("attrs", owner))
            if action == "delete":
                todo += [c for c in children.get(iid, []) if c not in self._images_after]
        return holders

    def _tag_holder(self, tag, image_id, labels):
        """A tag's owner attributes: its name; unless the name is a run's, also the owner labels
        (a run's, the chain's) of its image, as the window opened or as the window's pull of
        the tag or tag of the image showed them (an image pulled and removed in the window
        was not there when it opened)."""
        if _RUN_NAME.search(tag):
            return {"name": tag}
        seen = [
            _attrs(x)
            for x in self.events
            if x.get("Type") == "image"
            and (
                (_action(x) == "pull" and (_attrs(x).get("name") or x["Actor"]["ID"]) == tag)
                or (_action(x) == "tag" and x["Actor"]["ID"] == image_id)
            )
        ]
        owner = {}
        for attrs in [labels, *seen]:
            owner.update({k: v for k, v in attrs.items() if k == TEST_LABEL or k in CHAIN_LABELS})
        return {"name": tag, **owner}

    def _read(self):
        try:
            for e in self._stream:
                if e.get("Type") == "volume" and (e.get("Actor") or {}).get("ID") == self._marker:
                    self._closed.set()
                    return
                self._seen.append(e)
                self._learn(e)
        except Exception:  # noqa: BLE001 - the stream closed under us (timeout below)
            pass
        finally:
            self._lookup.close()

    def _learn(self, e):
        """The parent links of an image made in the window, looked up as the stream shows it:
        a build's step containers run on the layers it makes (``create`` names the layer's id)
        and the image built is tagged. Once removed, an image's layers are deleted by id alone;
        with their links known they go with the tags of the image built on them, however long
        the removal takes and whatever other removal comes between its steps. A lookup the
        removal wins (the image is already gone) learns nothing: the timing rule
        (:meth:`_in_foreign_cascade`) decides then. A lookup is a read: no event."""
        if e.get("Type") == "image" and _action(e) == "tag":
            iid = (e.get("Actor") or {}).get("ID", "")
        elif e.get("Type") == "container" and _action(e) == "create":
            iid = _attrs(e).get("image", "")
        else:
            return
        if not iid.startswith("sha256:") or iid in self._images or iid in self._lineage:
            return
        try:
            ids = [h.get("Id", "") for h in self._lookup.api.history(iid)]
        except (docker.errors.DockerException, OSError):
            return
        for child, parent in zip(ids, ids[1:], strict=False):
            if child.startswith("sha256:") and parent.startswith("sha256:"):
                self._lineage.setdefault(child, parent)

    def _close_window(self):
        """Close the window with an event of our own and wait until the stream showed it: the
        engine logs events in order, so everything done before the marker was seen by then."""
        try:
            self._client.api.create_volume(self._marker, labels=dict(LABELS))
            closed = self._closed.wait(30)
        finally:
            self._stream.close()
            self._reader.join(5)
            with contextlib.suppress(docker.errors.APIError):
                self._client.api.remove_volume(self._marker, force=True)
        if not closed:
            raise RuntimeError(f"{self.engine}: the event stream did not show {self._marker}")

    def __exit__(self, *exc):
        try:
            self._close_window()
        except Exception:
            if exc[0] is None:
                self._client.close()
                raise
        self.events = [
            e
            for e in self._seen
            if e.get("timeNano", 0) / 1e9 >= self._since
            and not _MARKER.match((e.get("Actor") or {}).get("ID", ""))
        ]
        self.before = [
            e
            for e in self._seen
            if self._since - CONTEXT <= e.get("timeNano", 0) / 1e9 < self._since
            and e.get("Type") == "image"
            and _action(e) in ("untag", "delete")
        ]
        # Containers removed just before the window, and the volumes they let go: a volume a
        # recreate kept (mounted by name, so ``rm -v`` leaves it) goes in a request of its own
        # right after its container (``_remove``), which the window may fall between.
        self.removed_before = [
            e
            for e in self._seen
            if self._since - CONTEXT <= e.get("timeNano", 0) / 1e9 < self._since
            and (e.get("Type"), _action(e)) in (("container", "destroy"), ("volume", "unmount"))
        ]
        # What mutations() needs from the engine is read now, while the window's objects exist.
        self._images_after = {}
        if any(
            e.get("Type") == "image" and _attrs(e).get("name", "").startswith("sha256:")
            for e in self.events
        ):
            self._images_after = {
                img["Id"]: _references(img) for img in self._client.api.images(all=True)
            }
        self._volume_holders_after = {}
        for vid in {
            (e.get("Actor") or {}).get("ID", "")
            for e in self.events
            if e.get("Type") == "volume" and engine_named((e.get("Actor") or {}).get("ID"))
        }:
            with contextlib.suppress(docker.errors.APIError):
                self._volume_holders_after[vid] = [
                    {**(c.get("Labels") or {}), "name": (c.get("Names") or ["/"])[0][1:]}
                    for c in self._client.api.containers(all=True, filters={"volume": vid})
                ]
        self._inspected = {}
        for e in self.events:
            if e.get("Type") == "container" and _action(e) == "exec_create":
                self._inspect(e["Actor"]["ID"])
            for key in ("container",):
                cid = _attrs(e).get(key)
                if cid and e.get("Type") in ("network", "volume"):
                    self._inspect(cid)
        self._client.close()
        return False

    def _inspect(self, cid):
        if cid not in self._inspected:
            try:
                self._inspected[cid] = self._client.api.inspect_container(cid)
            except docker.errors.APIError:
                self._inspected[cid] = None
        return self._inspected[cid]

    def _foreign_container(self, cid):
        for e in [*self.events, *getattr(self, "removed_before", ())]:
            if e.get("Type") == "container" and (e.get("Actor") or {}).get("ID") == cid:
                return foreign_labels(_attrs(e))
        data = self._inspected.get(cid)
        if data:
            return foreign_labels(
                {
                    **((data.get("Config") or {}).get("Labels") or {}),
                    "name": data.get("Name", "").lstrip("/"),
                }
            )
        return False

    def _is_health_check(self, e):
        data = self._inspected.get(e["Actor"]["ID"])
        test = (((data or {}).get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
        if not test:
            # The container is gone: a health check is what emitted health_status for it.
            return data is None and any(
                _action(x) == "health_status" and x["Actor"]["ID"] == e["Actor"]["ID"]
                for x in self.events
            )
        command = e.get("Action", "").split(":", 1)[1].strip() if ":" in e.get("Action", "") else ""
        wanted = (
            {"/bin/sh -c " + " ".join(test[1:]), " ".join(test[1:])}
            if test[0] == "CMD-SHELL"
            else {" ".join(test[1:])}
        )
        return command in wanted

    def foreign(self, e):
        attrs = _attrs(e)
        if e.get("Type") in ("network", "volume") and attrs.get("container"):
            if self._foreign_container(attrs["container"]):
                return True
        holders = self._holders(e)
        if holders is not None:
            if not holders and e.get("Type") == "image" and _action(e) == "delete":
                return self._in_foreign_cascade(e)
            if not holders and e.get("Type") == "volume":
                return self._with_foreign_container(e)
            return self._all_foreign(holders)
        return foreign_labels(
            {**attrs, "name": attrs.get("name") or (e.get("Actor") or {}).get("ID", "")}
        )

    def _all_foreign(self, holders):
        return bool(holders) and all(
            self._foreign_container(what) if kind == "container" else foreign_labels(what)
            for kind, what in holders
        )

    def _in_foreign_cascade(self, e, seconds=2.0):
        """An image deleted by id whose holder is unknown (a layer of an image built after the
        window opened): removing an image deletes its untagged parent layers in the same
        request, one after the other, so a delete is part of the removal whose events precede
        it without a gap of more than ``seconds`` between two of them. Walked back through such
        deletes of unknown holders, the first event whose holders are known decides: another
        owner's untag or delete (all its holders foreign) makes it theirs; one of ours, a gap,
        or nothing makes it count. So is one of a removal that began before the window opened
        (``_removal_began_before``, or a chain reaching back before the opening): under load a
        removal of many layers takes longer than ``seconds`` from its untag to its last delete,
        but not between two of its steps."""
        if self._removal_began_before(e["Actor"]["ID"], set()):
            return True
        before = getattr(self, "before", ())
        removals = sorted(
            (
                x
                for x in [*before, *self.events]
                if x.get("Type") == "image" and _action(x) in ("untag", "delete")
            ),
            key=lambda x: x.get("timeNano", 0),
        )
        at = e.get("timeNano", 0)
        for x in reversed(removals[: next(i for i, x in enumerate(removals) if x is e)]):
            if at - x.get("timeNano", 0) > seconds * 1e9:
                return False
            if any(x is b for b in before):
                return True
            holders = self._holders(x)
            if holders:
                return self._all_foreign(holders)
            at = x.get("timeNano", 0)
        return False

    def _removal_began_before(self, image_id, seen):
        """The image went in a removal whose request began before the window opened: its own
        untag or delete, or that of an image built on it (removed with its untagged parent
        layers), came in the CONTEXT seconds before. Never a call of this run's window, which
        starts in it and is waited for; under load an engine's removal of many layers can
        straddle the opening."""
        if any(x["Actor"]["ID"] == image_id for x in getattr(self, "before", ())):
            return True
        seen.add(image_id)
        return any(
            self._removal_began_before(child, seen)
            for child, info in self._images.items()
            if info["parent"] == image_id
            and child not in seen
            and child not in getattr(self, "_images_after", {})
        )

    def _with_foreign_container(self, e, seconds=2.0):
        """An anonymous volume nobody known holds (created and destroyed unmounted in the
        window): Docker makes one while it creates a container and removes it with the
        container (``rm -v``), in the same request (the volume's event comes just before or
        after the container's). Such an event within ``seconds`` of another owner's container
        create (for a create) or destroy (for a destroy), and of no container of ours, is that
        owner's. Otherwise it counts."""
        action = {"create": "create", "destroy": "destroy"}.get(_action(e))
        at = e.get("timeNano", 0)
        near = [
            x
            for x in self.events
            if x.get("Type") == "container"
            and _action(x) == action
            and abs(at - x.get("timeNano", 0)) <= seconds * 1e9
        ]
        return bool(near) and all(foreign_labels(_attrs(x)) for x in near)

    def owned(self, e):
        """The event is about an object of this run (its name or label, or its container's)."""
        attrs = _attrs(e)
        if e.get("Type") in ("network", "volume") and attrs.get("container"):
            if self._owned_container(attrs["container"]):
                return True
        for kind, what in self._holders(e) or ():
            if self._owned_container(what) if kind == "container" else _owned_attrs(what):
                return True
        return _owned_attrs(
            {**attrs, "name": attrs.get("name") or (e.get("Actor") or {}).get("ID", "")}
        )

    def _owned_container(self, cid):
        for e in [*self.events, *getattr(self, "removed_before", ())]:
            if e.get("Type") == "container" and (e.get("Actor") or {}).get("ID") == cid:
                return self.owned(e)
        data = self._inspected.get(cid) or {}
        labels = (data.get("Config") or {}).get("Labels") or {}
        return _owned_attrs({**labels, "name": data.get("Name", "").lstrip("/")})

    def shared(self, e):
        """The event is about an object nobody owns by name or label: an image not this run's
        (busybox, the base images, anything pulled by a reference of no run) or an anonymous
        volume that no container known holds. A test-mode pull, tag, untag or delete of such an
        image, or such a volume made or removed, is a mutation whoever's window sees it."""
        actor = (e.get("Actor") or {}).get("ID", "")
        if e.get("Type") == "image":
            return True
        return e.get("Type") == "volume" and engine_named(actor) and not self._holders(e)

    def mutations(self, everything=False, owned_only=False, read_exec=None):
        """(type, action, name) of each mutating event.

        Default: every event not positively another owner's. ``owned_only``: only events about
        this run's objects and shared ones (``shared()``: images, anonymous volumes held by no
        container) — for long windows (minutes) in which other sessions or benchmarks on the
        shared engines certainly act on containers, networks and named volumes of their own,
        unlabelled ones included. Another owner's image or volume (``foreign()``) never counts.
        ``everything``: other owners' too. ``read_exec``: a regular expression; an exec whose
        command line matches it is a read the caller vouches for (e.g. a query of HAProxy's
        runtime API), not a mutation.
        """
        out = []
        for e in self.events:
            action = _action(e)
            if action not in MUTATING_ACTIONS.get(e.get("Type"), ()):
                continue
            if owned_only and not (self.owned(e) or self.shared(e)):
                continue
            if not everything and self.foreign(e):
                continue
            if action == "exec_create" and self._is_health_check(e):
                continue
            if action == "exec_create" and read_exec and re.search(read_exec, e["Action"]):
                continue
            out.append(
                (e.get("Type"), action, _attrs(e).get("name") or (e.get("Actor") or {}).get("ID"))
            )
        return out

    def actions(self, type_="container"):
        return [_action(e) for e in self.events if e.get("Type") == type_]


def _action(event):
    return event.get("Action", "").split(":")[0]


def _attrs(event):
    return (event.get("Actor") or {}).get("Attributes") or {}


def _owned_attrs(attrs):
    """Labels/name (event attributes or inspect labels + name) of an object of this run."""
    match = _RUN_NAME.search(attrs.get("name") or "")
    return attrs.get(TEST_LABEL) == RUN or bool(match and match.group(1) == RUN)


def _references(img):
    """An image's tags and digest references (``repo@sha256:...``): an untag takes either."""
    refs = (img.get("RepoTags") or []) + (img.get("RepoDigests") or [])
    return [r for r in refs if r not in ("<none>:<none>", "<none>@<none>")]


def foreign_labels(attrs):
    """True when labels/name (event attributes or inspect labels + name) show another owner."""
    run = attrs.get(TEST_LABEL)
    if run is not None:
        return run != RUN
    match = _RUN_NAME.search(attrs.get("name") or "")
    if match:
        return match.group(1) != RUN
    return any(k in attrs for k in CHAIN_LABELS) or bool(
        _GENERATED_NAME.match(attrs.get("name") or "")
    )


def cleanup(engine, label=None):
    """Remove every container, network and volume that carries this run's label."""
    label = label or f"{TEST_LABEL}={RUN}"
    _remove(engine, {"label": label}, lambda labels: True)


def remove_references(engine, repository):
    """Untag every reference (``repository:tag``, ``repository@sha256:...``) of a repository
    of this run's on ``engine``: an image someone else tagged too (make chain, the same commit
    built from the same artifact is the same image id) keeps its own tags."""
    _untag(engine, lambda ref: ref.startswith((repository + ":", repository + "@")), repository)


def _untag(engine, wanted, repository=None):
    """Untag each reference ``wanted(ref)`` of the engine's images (those of ``repository``
    only, when given); an image goes with its last reference."""
    with contextlib.closing(client(engine)) as c:
        for img in c.images.list(name=repository):
            for ref in _references(img.attrs):
                if wanted(ref):
                    with contextlib.suppress(docker.errors.APIError):
                        c.images.remove(ref)


def cleanup_session(engine, session=SESSION):
    """Remove what the pytest-xdist workers of ``session`` left (their runs ``<session>w<N>``):
    the controller's last word, also after a worker crashed before its own cleanup."""
    runs = re.compile(rf"{re.escape(session)}w[0-9]+")
    _remove(
        engine,
        {"label": TEST_LABEL},
        lambda labels: bool(runs.fullmatch(labels[TEST_LABEL])),
        images=True,
    )
    # What the chain built under a run's name carries the chain's labels, not the test label
    # (e.g. ``<registry>/sc-<run>/e2e-app:<commit>``, pushes that reached the e2e chain after
    # its module had ended): untagged by name; the last reference removes the image.
    named = re.compile(rf"(?:^|/)sc-{re.escape(session)}w[0-9]+[-/:@]")
    _untag(engine, lambda ref: bool(named.search(ref)))


def _remove(engine, filters, wanted, images=False):
    """Remove the containers, networks and volumes (and with ``images``, the images: only at
    the session's end, since a module may build one for the next) matching ``filters`` whose
    labels are ``wanted``."""
    with contextlib.closing(client(engine)) as c:
        for ctr in c.containers.list(all=True, filters=filters):
            if wanted(ctr.labels):
                # ``v=True`` removes its anonymous volumes, but not those a recreate kept
                # (mounted by name): each goes right after it, before anything else happens
                kept = [
                    m["Name"]
                    for m in ctr.attrs.get("Mounts") or []
                    if m.get("Type") == "volume" and engine_named(m.get("Name"))
                ]
                ctr.remove(force=True, v=True)
                for volume in kept:
                    with contextlib.suppress(docker.errors.APIError):  # gone with v=True
                        c.api.remove_volume(volume)
        for net in c.networks.list(filters=filters):
            if wanted(net.attrs.get("Labels") or {}):
                with contextlib.suppress(docker.errors.APIError):
                    net.remove()
        for vol in c.volumes.list(filters=filters):
            if wanted(vol.attrs.get("Labels") or {}):
                with contextlib.suppress(docker.errors.APIError):
                    vol.remove(force=True)
        if not images:
            return
        # A parent image cannot go before its children (409): passes until one removes nothing.
        left = [i.id for i in c.images.list(all=True, filters=filters) if wanted(i.labels or {})]
        while left:
            failed = []
            for image_id in left:
                try:
                    c.images.remove(image_id, force=True, noprune=False)
                except docker.errors.NotFound:
                    pass  # pruned with a child removed before it
                except docker.errors.APIError:
                    failed.append(image_id)
            if len(failed) == len(left):
                return
            left = failed


def require_engines():
    missing = []
    for name, url in ENGINES.items():
        try:
            with contextlib.closing(docker.APIClient(base_url=url, version="auto", timeout=5)) as c:
                c.ping()
        except Exception:  # noqa: BLE001 - any failure means the engine is not there
            missing.append(f"{name} ({url})")
    return missing
