"""Build matching logic of the jenkins module, with the HTTP client replaced by canned JSON
shaped like real Jenkins' (what the emulator does not reproduce: password values not exported)."""

import pytest
from salt.exceptions import SaltInvocationError

from _modules import jenkins as jm

JOB = {
    "_class": "hudson.model.FreeStyleProject",
    "property": [{"_class": "hudson.model.ParametersDefinitionProperty", "parameterDefinitions": [
        {"_class": "hudson.model.StringParameterDefinition", "name": "REVISION", "type": "StringParameterDefinition"},
        {"_class": "hudson.model.PasswordParameterDefinition", "name": "DEPLOY_PW",
         "type": "PasswordParameterDefinition"},
    ]}],
    "builds": [
        {"number": 3, "url": "u/3/", "building": True, "result": None, "actions": [
            {"_class": "hudson.model.ParametersAction", "parameters": [
                {"_class": "hudson.model.StringParameterValue", "name": "REVISION", "value": "def"},
                # real Jenkins does not export a password parameter's value
                {"_class": "hudson.model.PasswordParameterValue", "name": "DEPLOY_PW"}]}]},
        {"number": 2, "url": "u/2/", "building": False, "result": "SUCCESS", "actions": [
            {"_class": "hudson.model.CauseAction"},
            {"_class": "hudson.model.ParametersAction", "parameters": [
                {"_class": "hudson.model.StringParameterValue", "name": "REVISION", "value": "abc"},
                {"_class": "hudson.model.PasswordParameterValue", "name": "DEPLOY_PW"}]}]},
    ],
}


class _FakeClient:
    def __init__(self):
        self.posts = []

    def get_json_or_none(self, path, params=None):
        return JOB

    def request(self, method, path, **kwargs):
        self.posts.append((method, path))
        raise AssertionError("no write expected")


@pytest.fixture
def client(monkeypatch):
    fake = _FakeClient()
    monkeypatch.setattr(jm, "_client", lambda profile=None: fake)
    return fake


@pytest.fixture
def configure_loader_modules():
    return {jm: {"__salt__": {}, "__context__": {}, "__opts__": {}}}


def test_password_parameters_are_left_out_of_matching(client):
    got = jm.last_build_with("app", {"REVISION": "abc", "DEPLOY_PW": "hunter2"})
    assert got == {"number": 2, "result": "SUCCESS", "url": "u/2/", "building": False}


def test_the_newest_matching_build_is_returned_even_while_running(client):
    got = jm.last_build_with("app", {"REVISION": "def"})
    assert got == {"number": 3, "result": None, "url": "u/3/", "building": True}
    assert jm.last_build_with("app")["number"] == 3
    assert jm.last_build_with("app", {"REVISION": "zzz"}) is None


def test_undefined_parameters_are_refused_before_any_write(client):
    with pytest.raises(SaltInvocationError, match="REVISON"):
        jm.last_build_with("app", {"REVISON": "abc"})
    with pytest.raises(SaltInvocationError, match="REVISON.*defines: DEPLOY_PW, REVISION"):
        jm._trigger(client, "app", [("REVISON", "abc")])
    assert client.posts == []
