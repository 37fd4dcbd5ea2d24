"""container_image.present on a local build context that is not there yet (an earlier state of
the run, e.g. a ``file.recurse``, makes it): under test the would-be build without reading the
context; applied for real, the missing context fails the state. The execution modules are
mocked; tests/functional/states/test_container_image.py runs the same against an engine."""

from unittest.mock import MagicMock

import pytest
from salt.exceptions import SaltInvocationError

from _states import container_image

IMAGE = "saltext-chain/pending:1"


@pytest.fixture
def configure_loader_modules():
    return {container_image: {"__salt__": {}, "__opts__": {"test": False}, "__env__": "base"}}


@pytest.fixture
def salt(monkeypatch):
    functions = {
        "container.image_inspect": MagicMock(return_value=None),
        "container.build_inputs_digest": MagicMock(
            side_effect=SaltInvocationError("image build: context /x is not a directory")
        ),
        "container.image_build": MagicMock(side_effect=AssertionError("build")),
        "container.image_push": MagicMock(side_effect=AssertionError("push")),
    }
    for name, func in functions.items():
        monkeypatch.setitem(container_image.__salt__, name, func)
    return functions


def test_test_mode_reports_the_build_of_a_context_not_there_yet(monkeypatch, salt, tmp_path):
    monkeypatch.setitem(container_image.__opts__, "test", True)
    context = str(tmp_path / "registry-image")
    ret = container_image.present(IMAGE, build=context, push=True)
    assert ret["result"] is None, ret["comment"]
    assert ret["comment"] == (
        f"Image {IMAGE} would be built from {context} (not there yet: made earlier in this run); "
        f"{IMAGE} would be pushed"
    )
    assert ret["changes"]["image_id"] == {"old": None, "new": "(to be built)"}
    assert ret["changes"]["inputs"] == {"old": None, "new": "(context not there yet)"}
    salt["container.build_inputs_digest"].assert_not_called()


def test_test_mode_on_an_existing_image_says_it_may_be_rebuilt(monkeypatch, salt, tmp_path):
    monkeypatch.setitem(container_image.__opts__, "test", True)
    salt["container.image_inspect"].return_value = {
        "Id": "sha256:0123456789abcdef",
        "Config": {"Labels": {container_image.INPUTS: "d1"}},
    }
    ret = container_image.present(IMAGE, build=str(tmp_path / "gone"))
    assert ret["result"] is None
    assert ret["changes"]["image_id"] == {
        "old": "0123456789ab",
        "new": "(rebuilt if its inputs changed)",
    }
    assert ret["changes"]["inputs"]["old"] == "d1"


def test_a_context_that_is_there_is_read_under_test(monkeypatch, salt, tmp_path):
    """Control: the shortcut is taken only for a missing context."""
    monkeypatch.setitem(container_image.__opts__, "test", True)
    salt["container.build_inputs_digest"].side_effect = None
    salt["container.build_inputs_digest"].return_value = "d2"
    ret = container_image.present(IMAGE, build=str(tmp_path))
    assert ret["result"] is None and ret["changes"]["inputs"] == {"old": None, "new": "d2"}
    salt["container.build_inputs_digest"].assert_called_once()


def test_applied_for_real_a_missing_context_fails_cleanly(salt, tmp_path):
    ret = container_image.present(IMAGE, build=str(tmp_path / "gone"))
    assert ret["result"] is False
    assert ret["comment"] == "image build: context /x is not a directory"
    assert ret["changes"] == {}
    salt["container.image_build"].assert_not_called()
