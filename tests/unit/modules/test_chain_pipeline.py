"""chain_pipeline: which commit ``git ls-remote`` output names (pure), and the input checks made
before any lookup."""

import pytest
from salt.exceptions import SaltInvocationError

from _modules import chain_pipeline as cp

C1, C2, TAG = "1" * 40, "2" * 40, "a" * 40


@pytest.mark.parametrize(
    "output, expected",
    [
        (f"{C1}\trefs/heads/main\n", C1),
        (f"{C2}\trefs/tags/v1\n", C2),
        # an annotated tag: the tag object, then the commit it points to (peeled) which wins
        (f"{TAG}\trefs/tags/v1\n{C2}\trefs/tags/v1^{{}}\n", C2),
        # a branch and an annotated tag of the same name: the peeled tag wins
        (f"{C1}\trefs/heads/v1\n{TAG}\trefs/tags/v1\n{C2}\trefs/tags/v1^{{}}\n", C2),
        (f"{C1.upper()}\trefs/heads/main\n", C1),
        ("", None),
        ("\n  \n", None),
    ],
)
def test_pick_commit(output, expected):
    assert cp._pick_commit(output) == expected


@pytest.fixture
def configure_loader_modules():
    def no_lookup(*args, **kwargs):
        raise AssertionError("no lookup expected")

    return {cp: {"__salt__": {"cmd.run_all": no_lookup}, "__opts__": {"test": False}}}


def test_full_commits_need_no_lookup():
    assert cp.commit(C1.upper(), "git://127.0.0.1:1/app.git") == C1
    assert cp.commit("main", "git://127.0.0.1:1/app.git", commit=C2) == C2
    assert cp.resolve(C1, None) == {"result": True, "comment": f"commit is {C1}", "commit": C1}


@pytest.mark.parametrize(
    "args, message",
    [
        (("main", "u", "abc"), "pillar chain:commit must be a full commit id"),
        (("", "u"), "pillar chain:ref is empty"),
        (("main", ""), "url: the source server's repository URL is needed"),
    ],
)
def test_bad_input(args, message):
    with pytest.raises(SaltInvocationError, match=message):
        cp.commit(*args)
    answer = cp.resolve(*args)
    assert answer["result"] is False and answer["comment"].startswith(message[:20])


def test_artifact_needs_an_absolute_dest():
    got = cp.artifact("job", C1, None, "relative/path")
    assert got["result"] is False and got["comment"] == "dest: expected an absolute path"
    assert cp.artifact("job", "main", "u", "/x", commit="abc")["result"] is False
