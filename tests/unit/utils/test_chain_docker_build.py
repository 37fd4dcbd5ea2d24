"""chain_docker_build: build inputs checked before I/O, FROM/ARG parsing, the inputs digest."""

import os

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError
from saltext.chain.utils import chain_docker_build as build


@pytest.mark.parametrize(
    "text, args, expected",
    [
        ("FROM debian:12\n", {}, ["debian:12"]),
        ("ARG BASE_IMAGE=busybox:1\nFROM ${BASE_IMAGE}\n", {}, ["busybox:1"]),
        (
            "ARG BASE_IMAGE=busybox:1\nFROM $BASE_IMAGE AS build\nFROM scratch\n"
            "COPY --from=build / /\n",
            {"BASE_IMAGE": "alpine:3"},
            ["alpine:3"],
        ),
        (
            "FROM --platform=linux/amd64 app:1 AS a\nFROM a\nFROM other:2\n",
            {},
            ["app:1", "other:2"],
        ),
        ('ARG B="quoted:1"\nfrom ${B}\n', {}, ["quoted:1"]),
    ],
)
def test_base_images_of_a_dockerfile(text, args, expected):
    assert build.base_images(text, args) == expected


def _inputs(**kwargs):
    return build.check_inputs("ctx", **kwargs)


def test_check_inputs_normalises():
    got = build.check_inputs("salt://app", "Dockerfile", ["V=1"], "prod", {"a": True}, "base:1")
    assert got == {
        "path": "salt://app",
        "dockerfile": "Dockerfile",
        "buildargs": {"V": "1", "BASE_IMAGE": "base:1"},
        "target": "prod",
        "labels": {"a": "true"},
    }
    assert _inputs(buildargs={"V": 1}) == _inputs(buildargs=["V=1"])


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"buildargs": "V=1"}, "buildargs"),
        ({"buildargs": ["novalue"]}, "buildargs"),
        ({"labels": {"a": {"nested": 1}}}, "labels"),
        ({"dockerfile": "/etc/Dockerfile"}, "dockerfile"),
        ({"dockerfile": "../Dockerfile"}, "dockerfile"),
        ({"target": 5}, "target"),
        ({"base_image": "a b"}, "base_image"),
    ],
)
def test_bad_build_inputs_name_the_argument(kwargs, field):
    with pytest.raises(SaltInvocationError, match=field):
        _inputs(**kwargs)
    with pytest.raises(SaltInvocationError, match="path"):
        build.check_inputs(None)


@pytest.fixture
def context(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("b\n")
    return tmp_path


def _digest(context, served=None, **kwargs):
    return build.inputs_digest(str(context), _inputs(**kwargs), {}, served)


def test_digest_follows_every_input(context):
    plain = _digest(context)
    assert _digest(context) == plain
    assert _digest(context, labels={"a": "1"}) != plain
    assert _digest(context, buildargs=["V=1"]) == _digest(context, buildargs={"V": "1"})
    assert _digest(context, buildargs=["V=1"]) != plain
    assert _digest(context, target="x") != plain
    assert build.inputs_digest(str(context), _inputs(), {"debian:12": "sha256:1"}) != plain
    (context / "sub" / "b.txt").write_text("changed\n")
    changed = _digest(context)
    assert changed != plain
    os.chmod(context / "a.txt", 0o600)
    assert _digest(context) != changed


def test_dockerignore_is_honoured(context):
    (context / ".dockerignore").write_text("# comment\nsub\n")
    before = _digest(context)
    (context / "sub" / "b.txt").write_text("ignored\n")
    assert _digest(context) == before
    assert build.context_files(str(context)) == [".dockerignore", "Dockerfile", "a.txt"]


def test_served_files_leave_stale_cache_files_out_without_deleting(context):
    served = build.served_files(["app/Dockerfile", "app/sub/b.txt"], "app")
    assert served == {"Dockerfile", "sub/b.txt"}
    (context / "a.txt").unlink()
    without_a = _digest(context)
    (context / "a.txt").write_text("a\n")
    assert _digest(context, served=served) == without_a
    assert (context / "a.txt").exists()  # the digest deletes nothing
    build.prune_context(str(context), served)
    assert not (context / "a.txt").exists() and (context / "sub" / "b.txt").exists()
    assert _digest(context) == without_a


def test_prune_removes_emptied_directories(context):
    build.prune_context(str(context), {"Dockerfile"})
    assert sorted(os.listdir(context)) == ["Dockerfile"]


def test_missing_dockerfile_is_bad_input(tmp_path):
    with pytest.raises(SaltInvocationError, match="no Dockerfile in salt://x"):
        build.read_dockerfile(str(tmp_path), "Dockerfile", "salt://x")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(SaltInvocationError, match="no Dockerfile"):
        build.read_dockerfile(str(tmp_path), "Dockerfile", served={"other"})


def test_salt_context_paths():
    assert build.salt_prefix("salt://app/image/") == "app/image"
    assert build.salt_prefix("/srv/app") is None
    cached = build.cached_context("/var/cache/salt", "base", "app")
    assert cached == "/var/cache/salt/files/base/app"


def test_follow_build_reads_the_id_and_fails_with_the_builders_last_lines():
    ok = [{"stream": "Step 1/2\n"}, {"aux": {"ID": "sha256:abc"}}, {"stream": "done\n"}]
    assert build.follow_build("x", ok) == ("sha256:abc", "Step 1/2\ndone")
    legacy = [{"stream": "Successfully built 0123abcd\n"}]
    assert build.follow_build("x", legacy)[0] == "0123abcd"
    with pytest.raises(CommandExecutionError, match="build x failed:\nStep 1/2\nno such file"):
        build.follow_build("x", [{"stream": "Step 1/2\n"}, {"error": "no such file\n"}])


def test_context_dir_prunes_only_when_asked(tmp_path):
    cache = tmp_path / "cache"
    local = cache / "files" / "base" / "app"
    local.mkdir(parents=True)
    (local / "Dockerfile").write_text("FROM scratch\n")
    (local / "stale.txt").write_text("x")

    def cache_dir(path, saltenv, include_empty):
        return [str(local / "Dockerfile")]

    def list_master(saltenv, prefix):
        return ["app/Dockerfile"]

    args = ("salt://app", "base", str(cache), cache_dir, list_master)
    assert build.context_dir(*args, prune=False) == (str(local), {"Dockerfile"})
    assert (local / "stale.txt").exists()
    build.context_dir(*args, prune=True)
    assert not (local / "stale.txt").exists()
    with pytest.raises(SaltInvocationError, match="not on the Salt fileserver"):
        build.context_dir("salt://gone", "base", str(cache), lambda *a, **k: [], list_master, False)
    with pytest.raises(SaltInvocationError, match="not a directory"):
        build.context_dir(str(tmp_path / "nope"), "base", str(cache), cache_dir, list_master, False)


def test_a_context_the_fileserver_does_not_list_says_why_and_how_to_refresh():
    def nothing(*args, **kwargs):
        return []

    with pytest.raises(SaltInvocationError) as err:
        build.context_dir("salt://new", "base", "/c", nothing, nothing, False)
    assert str(err.value) == (
        "image build: salt://new is not on the Salt fileserver; if it was created less than 20 s "
        "ago, the fileserver's file list (kept for fileserver_list_cache_time = 20 s) does not "
        "show it yet: wait and apply again, or run salt-run fileserver.clear_file_list_cache on "
        "the master"
    )
    hint = {"masterless": True, "list_cache_time": 60}
    with pytest.raises(SaltInvocationError) as err:
        build.context_dir("salt://new", "base", "/c", nothing, nothing, False, list_cache=hint)
    assert "less than 60 s ago" in str(err.value)
    assert "delete the minion's <cachedir>/file_lists/" in str(err.value)
    assert "fileserver_list_cache_time: 0" in str(err.value)


def test_saltenv_is_checked_with_the_inputs():
    with pytest.raises(SaltInvocationError, match="saltenv"):
        build.check_inputs("salt://x", saltenv=5)
    assert build.check_inputs("salt://x", saltenv="dev")["path"] == "salt://x"


def test_pending_context_is_a_local_path_that_is_not_there(tmp_path):
    (tmp_path / "file").write_text("x")
    os.symlink(tmp_path / "gone", tmp_path / "dangling")
    assert build.pending_context(str(tmp_path / "nope")) is True
    assert build.pending_context(str(tmp_path)) is False
    # there but no directory: read as ever, and fail as ever
    assert build.pending_context(str(tmp_path / "file")) is False
    assert build.pending_context(str(tmp_path / "dangling")) is False

    def never(path):
        raise AssertionError(f"a salt:// context is not a local path: {path}")

    assert build.pending_context("salt://app/image", exists=never) is False


@pytest.mark.parametrize("context", ["source", "registry"])
def test_bytecode_caches_are_not_inputs_of_the_formulas_images(context, tmp_path):
    """A test or a tool that imports a hook of formulas/chain/files/<context> writes
    ``__pycache__`` there; the image's inputs stay the same (ci60: the source image was rebuilt
    between two applies, and the second apply of chain.source reported changes)."""
    import shutil  # noqa: PLC0415

    from tests.conftest import REPO  # noqa: PLC0415

    pristine = tmp_path / "pristine"
    shutil.copytree(REPO / "formulas" / "chain" / "files" / context, pristine)
    touched = tmp_path / "touched"
    shutil.copytree(pristine, touched)
    (touched / "__pycache__").mkdir()
    (touched / "__pycache__" / "hook.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (touched / "stray.pyc").write_bytes(b"\x00")
    assert build.context_files(str(touched)) == build.context_files(str(pristine))
