"""container_image.present/absent: content-addressed builds, tag, push to the local registry."""

import json

import pytest

from tests.support import engines
from tests.support.engines import BUSYBOX, REGISTRY, RUN, TEST_LABEL, EventRecorder

pytestmark = pytest.mark.docker


@pytest.fixture
def context(tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE_IMAGE=saltext-chain/busybox:latest\nFROM ${BASE_IMAGE}\nARG VERSION=0\n"
        'COPY app.txt /app.txt\nRUN echo "version $VERSION" > /version\n'
        # sleep as PID 1 would ignore SIGTERM: a recreate would wait out the 10 s stop grace.
        f"CMD {json.dumps(engines.stoppable('sleep 3600'))}\n"
    )
    (tmp_path / "app.txt").write_text("one\n")
    (tmp_path / "ignored.log").write_text("noise\n")
    (tmp_path / ".dockerignore").write_text("*.log\n")
    return tmp_path


@pytest.fixture
def image_name(engine, modules):
    name = f"saltext-chain/sc-{RUN}-app-{engine}:1"
    yield name
    modules.container.remove(f"sc-{RUN}-app", force=True, profile=engine)
    modules.container.image_remove(name, force=True, profile=engine)


def test_build_is_content_addressed_and_dependents_follow(
    states, modules, engine, context, image_name
):
    build = dict(
        name=image_name,
        build=str(context),
        buildargs={"VERSION": "1"},
        base_image=BUSYBOX,
        labels={TEST_LABEL: RUN},
        profile=engine,
    )
    with EventRecorder(engine) as rec:
        dry = states.container_image.present(test=True, **build)
    assert dry.result is None and "would be built" in dry.comment
    assert modules.container.image_inspect(image_name, profile=engine) is None
    assert rec.mutations() == []

    first = states.container_image.present(**build)
    assert first.result is True, first.comment
    first_id = modules.container.image_inspect(image_name, profile=engine)["Id"]
    assert first.changes["image_id"]["new"] == first_id.split(":")[1][:12]
    run = dict(image=image_name, labels={TEST_LABEL: RUN}, profile=engine)
    assert states.container.running(f"sc-{RUN}-app", **run).result is True

    # Same inputs: no build. An ignored file changing is not an input.
    (context / "ignored.log").write_text("more noise\n")
    with EventRecorder(engine) as rec:
        again = states.container_image.present(**build)
    assert again.result is True and again.changes == {}, again.comment
    assert rec.mutations() == []
    assert states.container.running(f"sc-{RUN}-app", **run).changes == {}

    # A context file changes: rebuilt, and the container follows the new image id by itself.
    (context / "app.txt").write_text("two\n")
    rebuilt = states.container_image.present(**build)
    assert (
        rebuilt.result is True and rebuilt.changes["image_id"]["old"] == first_id.split(":")[1][:12]
    )
    follow = states.container.running(f"sc-{RUN}-app", **run)
    assert follow.result is True and "image_id" in follow.changes, follow.changes
    assert (
        modules.container.exec(f"sc-{RUN}-app", "cat /app.txt", profile=engine)["stdout"] == "two\n"
    )

    # A build arg is an input too.
    bumped = states.container_image.present(**{**build, "buildargs": {"VERSION": "2"}})
    assert "image_id" in bumped.changes
    assert states.container_image.present(**{**build, "buildargs": {"VERSION": "2"}}).changes == {}


def test_failed_build_reports_the_builder_output(states, engine, context, image_name):
    (context / "Dockerfile").write_text(
        "FROM saltext-chain/busybox:latest\nRUN echo building && exit 7\n"
    )
    ret = states.container_image.present(name=image_name, build=str(context), profile=engine)
    assert ret.result is False
    assert "building" in ret.comment and "failed" in ret.comment


def test_tag_push_and_absent(
    states, modules, engine, docker_engines, registry_credentials, tmp_path
):
    target = f"{REGISTRY}/saltext-chain/sc-{RUN}-push-{engine}:1"
    try:
        login = states.container_registry.logged_in(
            REGISTRY, config_path=str(tmp_path / "docker-config.json"), profile=engine
        )
        assert login.result is True, login.comment
        assert registry_credentials["password"] not in str(login.raw)

        ret = states.container_image.present(name=target, source=BUSYBOX, push=True, profile=engine)
        assert ret.result is True, ret.comment
        assert set(ret.changes) == {"image_id", "pushed"}
        assert modules.container.registry_digest(target) is not None
        with EventRecorder(engine) as rec:
            again = states.container_image.present(
                name=target, source=BUSYBOX, push=True, profile=engine
            )
        assert again.result is True and again.changes == {}, again.comment
        assert rec.mutations() == []

        # Pull policy `always` against the registry: same id, no change.
        pulled = states.container_image.present(name=target, pull="always", profile=engine)
        assert pulled.result is True and pulled.changes == {}, pulled.comment

        gone = states.container_image.absent(name=target, profile=engine)
        assert gone.result is True and gone.changes["image_id"]["new"] is None
        assert states.container_image.absent(name=target, profile=engine).changes == {}
        # Back from the registry with pull: missing.
        back = states.container_image.present(name=target, profile=engine)
        assert back.result is True and back.changes["image_id"]["old"] is None
    finally:
        modules.container.image_remove(target, force=True, profile=engine)


def test_bad_image_input(states, engine, context):
    ret = states.container_image.present(
        name="x/y:1", build=str(context), source=BUSYBOX, profile=engine
    )
    assert ret.result is False and "mutually exclusive" in ret.comment
    ret = states.container_image.present(name="x/y:1", build=str(context / "nope"), profile=engine)
    assert ret.result is False and "not a directory" in ret.comment
    ret = states.container_image.present(name="x/y:1", pull="sometimes", profile=engine)
    assert ret.result is False and "pull must be one of" in ret.comment


def test_a_context_not_there_yet_is_a_would_be_build_under_test_only(
    states, modules, engine, tmp_path
):
    """An earlier state of the run (a file.recurse, nothing under test) makes the context."""
    name, context = f"saltext-chain/sc-{RUN}-pending-{engine}:1", tmp_path / "not-yet"
    build = dict(name=name, build=str(context), base_image=BUSYBOX, profile=engine)
    with EventRecorder(engine) as rec:
        dry = states.container_image.present(test=True, **build)
        real = states.container_image.present(**build)
    assert dry.result is None, dry.comment
    assert dry.comment == (
        f"Image {name} would be built from {context} (not there yet: made earlier in this run)"
    )
    assert dry.changes["image_id"] == {"old": None, "new": "(to be built)"}
    assert real.result is False and real.changes == {}
    assert real.comment == f"image build: context {context} is not a directory"
    assert rec.mutations() == []
    assert not context.exists()
    assert modules.container.image_inspect(name, profile=engine) is None


def test_rebuilt_base_image_rebuilds_what_stands_on_it(states, modules, engine, tmp_path):
    base, app = (
        f"saltext-chain/sc-{RUN}-base-{engine}:1",
        f"saltext-chain/sc-{RUN}-onbase-{engine}:1",
    )
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "Dockerfile").write_text(
        "FROM saltext-chain/busybox:latest\nRUN echo one > /base\n"
    )
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(
        "ARG BASE_IMAGE=none\nFROM ${BASE_IMAGE}\nRUN cat /base\n"
    )
    try:
        assert (
            states.container_image.present(
                name=base, build=str(tmp_path / "base"), profile=engine
            ).result
            is True
        )
        first = states.container_image.present(
            name=app, build=str(tmp_path / "app"), base_image=base, profile=engine
        )
        assert first.result is True and "image_id" in first.changes
        same = states.container_image.present(
            name=app, build=str(tmp_path / "app"), base_image=base, profile=engine
        )
        assert same.changes == {}
        (tmp_path / "base" / "Dockerfile").write_text(
            "FROM saltext-chain/busybox:latest\nRUN echo two > /base\n"
        )
        assert (
            "image_id"
            in states.container_image.present(
                name=base, build=str(tmp_path / "base"), profile=engine
            ).changes
        )
        follow = states.container_image.present(
            name=app, build=str(tmp_path / "app"), base_image=base, profile=engine
        )
        assert follow.result is True and "image_id" in follow.changes, follow.comment
    finally:
        for ref in (app, base):
            modules.container.image_remove(ref, force=True, profile=engine)


def test_file_removed_from_a_salt_context_is_an_input_change(states, modules, engine, repo_root):
    import shutil
    import uuid

    rel = f"_tmp-ctx-{uuid.uuid4().hex[:8]}"
    ctx = repo_root / "tests" / "functional" / "files" / rel
    ctx.mkdir()
    name = f"saltext-chain/sc-{RUN}-saltctx-{engine}:1"
    try:
        (ctx / "Dockerfile").write_text("FROM saltext-chain/busybox:latest\nCOPY . /ctx/\n")
        (ctx / "keep.txt").write_text("keep\n")
        (ctx / "drop.txt").write_text("drop\n")
        first = states.container_image.present(name=name, build=f"salt://{rel}", profile=engine)
        assert first.result is True, first.comment
        assert (
            states.container_image.present(name=name, build=f"salt://{rel}", profile=engine).changes
            == {}
        )
        (ctx / "drop.txt").unlink()
        again = states.container_image.present(name=name, build=f"salt://{rel}", profile=engine)
        assert again.result is True and "image_id" in again.changes, again.comment
        assert (
            states.container.running(
                f"sc-{RUN}-ctx",
                image=name,
                command="sleep 60",
                labels={TEST_LABEL: RUN},
                profile=engine,
            ).result
            is True
        )
        listing = modules.container.exec(f"sc-{RUN}-ctx", "ls /ctx", profile=engine)[
            "stdout"
        ].split()
        assert "drop.txt" not in listing and "keep.txt" in listing
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
        modules.container.remove(f"sc-{RUN}-ctx", force=True, profile=engine)
        modules.container.image_remove(name, force=True, profile=engine)


def test_list_buildargs_and_pull_always_test_mode(states, engine, context, image_name):
    ret = states.container_image.present(
        name=image_name, build=str(context), buildargs=["VERSION=3"], profile=engine
    )
    assert ret.result is True, ret.comment
    dry = states.container_image.present(name=BUSYBOX, pull="always", profile=engine, test=True)
    assert dry.result is None and dry.changes["image_id"]["new"] == "(newest in the registry)"
