"""chain_docker_states: the create/as-declared/remove steps of the image, network, volume states."""

from saltext.chain.utils import chain_docker_states as steps
from saltext.chain.utils import chain_states


def test_missing_is_created_or_would_be():
    calls = []
    for test in (True, False):
        ret = chain_states.new_ret("v")
        assert steps.settled(ret, "Volume", "v", test, None, lambda: calls.append("create"))
        assert ret["changes"] == {"volume": {"old": None, "new": "v"}}
        assert (ret["result"], ret["comment"]) == (
            (None, "Volume v would be created") if test else (True, "Volume v created")
        )
    assert calls == ["create"]  # test mode created nothing


def test_as_declared_and_differing():
    ret = chain_states.new_ret("n")
    assert steps.settled(ret, "Network", "n", False, {"changes": {}}, None)
    assert ret == {
        "name": "n",
        "result": True,
        "comment": "Network n is as declared",
        "changes": {},
    }
    assert (
        steps.settled(chain_states.new_ret("n"), "Network", "n", False, {"changes": {"x": 1}}, None)
        is False
    )


def test_remove_present():
    calls = []
    ret = steps.remove_present(
        chain_states.new_ret("i"), "Image", "i", False, None, calls.append, {}
    )
    assert ret["comment"] == "Image i is absent" and ret["changes"] == {}
    change = {"image_id": {"old": "abc", "new": None}}
    dry = steps.remove_present(
        chain_states.new_ret("i"),
        "Image",
        "i",
        True,
        {"Id": "abc"},
        lambda: calls.append("rm"),
        change,
    )
    assert dry["result"] is None and dry["changes"] == change and calls == []
    real = steps.remove_present(
        chain_states.new_ret("i"),
        "Image",
        "i",
        False,
        {"Id": "abc"},
        lambda: calls.append("rm"),
        change,
    )
    assert real["comment"] == "Image i removed" and calls == ["rm"]


def test_removed_earlier_is_what_a_container_absent_of_this_test_run_would_remove():
    running = {
        "container_|-a_|-web_|-absent": {"result": None, "changes": {"container": {}}},
        "container_|-b_|-db_|-absent": {"result": True, "changes": {}},  # already absent
        "container_|-c_|-cache_|-running": {"result": None, "changes": {"container": {}}},
        "container_|-d_|-worker_|-absent": {"result": False, "changes": {}},  # failed
        "file_|-e_|-api_|-absent": {"result": None, "changes": {"removed": "api"}},
    }
    names = ["web", "db", "cache", "worker", "api", "other"]
    assert steps.removed_earlier(running, names) == ["web"]
    assert steps.removed_earlier({}, names) == []
    assert steps.removed_earlier(None, names) == []
