"""The chain runner's orchestration with its I/O replaced (the master's client, the event bus):
status shows each app's own Jenkins job; a rollout's return says what changed (nothing on a
no-op) and, on a failure, one readable comment."""

import re

import pytest

from _runners import chain


@pytest.fixture
def configure_loader_modules(tmp_path):
    apps = {
        "api": {"targets": ["web1"], "jenkins_profile": "ci", "jenkins_job": "api-pipeline"},
        "web": {"targets": ["web1"], "jenkins_profile": "ci", "jenkins_job": "web-pipeline"},
    }
    return {
        chain: {
            "__opts__": {"cachedir": str(tmp_path), "chain": {"apps": apps}},
            "__context__": {},
            "__salt__": {},
        }
    }


@pytest.fixture
def fired(monkeypatch):
    events = []
    monkeypatch.setattr(chain, "_fire", lambda app, stage, data: events.append((stage, data)))
    return events


def test_status_of_several_apps_shows_each_apps_own_job(monkeypatch):
    # regression: the table used the last app's jenkins_job for every app
    monkeypatch.setattr(chain, "_server_status", lambda conf, target: {"error": "no answer"})
    monkeypatch.setattr(chain, "_registry_status", lambda name, tags: None)
    overview = {"url": "http://ci/", "agents": {}, "queue": [], "builds": []}
    monkeypatch.setattr(chain, "_jenkins_status", lambda conf, builds=5: dict(overview))
    out = chain.status()
    api, web = out.split("app web:")
    assert "job api-pipeline" in api and "web-pipeline" not in api
    assert "job web-pipeline" in web and "api-pipeline" not in web


class Servers:
    """What each server runs, changed by the deploy state; ``fail`` says how a server fails."""

    def __init__(self, monkeypatch, running, fail=None):
        self.running, self.fail, self.applied = dict(running), fail or {}, []
        self.waves, self.kinds, self.pulled = [], [], []
        monkeypatch.setattr(chain, "_unchanged", lambda conf, image, app, waited=None: None)
        monkeypatch.setattr(chain, "_server_status", self.status)
        monkeypatch.setattr(chain, "_statuses", self.statuses)
        monkeypatch.setattr(chain, "_apply_deploy_state", self.apply)
        monkeypatch.setattr(chain, "_apply_together", self.together)
        monkeypatch.setattr(chain, "_check_server", lambda conf, target, status, kind, before: None)
        monkeypatch.setattr(chain, "_where_now", lambda conf: dict(self.running))

    def status(self, conf, target):
        return {"current": self.running[target]}

    def statuses(self, conf, targets, pull=None):
        self.pulled.append(pull)
        return {t: self.status(conf, t) for t in targets}

    def together(self, conf, wave, image, app, kind):
        self.waves.append(list(wave))
        self.kinds.append(kind)
        return {t: self.apply(conf, t, image, app) for t in wave}

    def apply(self, conf, target, image, app):
        """``(ok, comment, seconds, changed)``: the deploy state changed the server when it ran
        another image."""
        self.applied.append((target, image))
        if target in self.fail and image == "app:3":
            return False, self.fail[target], 7.0, True
        changed = self.running[target] != image
        self.running[target] = image
        return True, "4 state(s) succeeded", 5.0, changed


def conf(**extra):
    return chain._app_conf("app", {"targets": ["web1", "web2"], **extra})


def test_a_rollout_that_changes_servers_reports_them(monkeypatch, fired):
    servers = Servers(monkeypatch, {"web1": "app:2", "web2": "app:2"})
    ret = chain._rollout("app", "app:3", "v3", conf())
    assert ret["result"] is True and ret["retcode"] == 0 and ret["no_op"] is False
    assert ret["changes"] == {
        "web1": {"old": "app:2", "new": "app:3"},
        "web2": {"old": "app:2", "new": "app:3"},
    }
    assert ret["comment"] == "rollout of app to app:3: 2 server(s) updated"
    assert servers.pulled == [None, None, None]  # a local tag: nothing to pull
    # web1's canary replica, then web1's other replicas and web2 together
    assert servers.applied == [("web1", "app:3"), ("web1", "app:3"), ("web2", "app:3")]
    assert ret["servers"]["web1"]["seconds"] == 10.0  # both applies
    assert chain.history("app")[0]["changes"] == ret["changes"]


def test_applies_that_find_everything_in_place_are_no_change(monkeypatch, fired):
    """The no-op check went server by server (a replica was momentarily not ready when it
    looked) and every apply found the servers already running the image: no changes, in the
    return and in the history (a second apply of ``chain.rolled_out`` stays a no-op)."""
    Servers(monkeypatch, {"web1": "app:3", "web2": "app:3"})
    ret = chain._rollout("app", "app:3", "v3", conf())
    assert ret["result"] is True and ret["changes"] == {}
    assert chain.history("app")[0]["changes"] == {}
    # the control: one server on another image is that server's change only
    Servers(monkeypatch, {"web1": "app:3", "web2": "app:2"})
    ret = chain._rollout("app", "app:3", "v3", conf())
    assert ret["changes"] == {"web2": {"old": "app:2", "new": "app:3"}}


def test_a_state_run_the_first_look_waited_for_is_said_in_the_comment(monkeypatch, fired):
    """The test-mode look waited for a state run already under way on web1 (the deploy of an
    interrupted rollout): the comment says so; the return keeps its shape (no new key)."""
    note = "waited 14.2 s for state.apply (jid 20261206190001123456) to end"

    def unchanged(conf, image, app, waited=None):
        waited["web1"] = note

    Servers(monkeypatch, {"web1": "app:2", "web2": "app:2"})
    monkeypatch.setattr(chain, "_unchanged", unchanged)
    ret = chain._rollout("app", "app:3", "v3", conf())
    assert ret["result"] is True and "waited" not in ret
    assert ret["comment"].splitlines() == [
        "rollout of app to app:3: 2 server(s) updated",
        f"  web1: a state run was under way there: {note}",
    ]


def test_a_no_op_rollout_reports_no_changes(monkeypatch, fired):
    entry = {"result": True, "no_op": True, "comment": "no change", "seconds": 1, "previous": "a"}
    monkeypatch.setattr(
        chain, "_unchanged", lambda c, image, app, waited=None: {"web1": entry, "web2": entry}
    )
    monkeypatch.setattr(chain, "_statuses", lambda c, targets, pull=None: dict.fromkeys(targets))
    ret = chain._rollout("app", "app:2", "v2", conf())
    assert ret["result"] is True and ret["no_op"] is True
    assert ret["changes"] == {}
    assert ret["comment"] == "rollout of app to app:2: no change, 2 server(s) already run it"
    assert [stage for stage, _ in fired] == ["start", "done"]


def test_a_failed_rollout_is_one_readable_failure(monkeypatch, fired):
    why = (
        "app: Service app: the update to app:3 failed and was rolled back to app:2: "
        "app-web2-1 is unhealthy; last log lines: refused"
    )
    servers = Servers(monkeypatch, {"web1": "app:2", "web2": "app:2"}, fail={"web2": why})
    ret = chain._rollout("app", "app:3", "v3", conf())
    assert ret["result"] is False and ret["retcode"] == 1
    assert chain.__context__["retcode"] == 1
    assert servers.applied == [
        ("web1", "app:3"),
        ("web1", "app:3"),
        ("web2", "app:3"),
        ("web1", "app:2"),
    ]
    assert ret["changes"] == {}  # web1 is back on app:2, web2 rolled itself back
    assert ret["now"] == {"web1": "app:2", "web2": "app:2"}
    assert ret["comment"].splitlines() == [
        "rollout of app to app:3 failed on web2",
        f"  web2: {why}",
        "  rolled back web1 to app:2: ok",
        "  now: web1 runs app:2, web2 runs app:2",
    ]
    assert [(stage, d.get("target"), d.get("wave")) for stage, d in fired] == [
        ("start", None, None),
        ("server", "web1", "canary"),
        ("server/done", "web1", "canary"),
        ("server", "web1", "rest"),
        ("server", "web2", "rest"),
        ("server/done", "web1", "rest"),
        ("server/done", "web2", "rest"),
        ("rollback", "web1", None),
        ("done", None, None),
    ]


THREE = {"web1": "app:2", "web2": "app:2", "web3": "app:2"}


def test_the_canary_first_then_the_rest_together(monkeypatch, fired):
    servers = Servers(monkeypatch, THREE)
    ret = chain._rollout("app", "app:3", "v3", conf(targets=list(THREE)))
    assert ret["result"] is True and set(ret["changes"]) == set(THREE)
    assert servers.waves == [["web1"], ["web1", "web2", "web3"]]
    assert servers.kinds == ["canary", "rest"]
    together = [(d["wave"], d["together"]) for stage, d in fired if stage == "server"]
    assert together == [("canary", 1), ("rest", 3), ("rest", 3), ("rest", 3)]

    servers = Servers(monkeypatch, THREE)
    ret = chain._rollout("app", "app:3", "v3", conf(targets=list(THREE), canary="serial"))
    assert ret["result"] is True and servers.waves == [["web1"], ["web2"], ["web3"]]
    assert servers.kinds == ["serial"] * 3


def test_a_failed_canary_stops_the_rollout_before_the_rest(monkeypatch, fired):
    servers = Servers(monkeypatch, THREE, fail={"web1": "unhealthy"})
    ret = chain._rollout("app", "app:3", "v3", conf(targets=list(THREE)))
    assert ret["result"] is False and list(ret["servers"]) == ["web1"]
    assert servers.applied == [("web1", "app:3")] and ret["changes"] == {}


def test_a_failure_in_the_rest_rolls_back_every_server_already_changed(monkeypatch, fired):
    servers = Servers(monkeypatch, THREE, fail={"web3": "unhealthy"})
    ret = chain._rollout("app", "app:3", "v3", conf(targets=list(THREE)))
    assert ret["result"] is False and ret["changes"] == {}
    assert servers.waves == [["web1"], ["web1", "web2", "web3"]]
    # web2 (updated with web3) and the canary go back, last updated first
    assert servers.applied[4:] == [("web2", "app:2"), ("web1", "app:2")]
    assert ret["now"] == {"web1": "app:2", "web2": "app:2", "web3": "app:2"}
    assert set(ret["rolled_back"]) == {"web1", "web2"}

    servers = Servers(monkeypatch, THREE, fail={"web3": "unhealthy"})
    ret = chain._rollout("app", "app:3", "v3", conf(targets=list(THREE), max_failures=1))
    assert ret["result"] is True and set(ret["changes"]) == {"web1", "web2"}


def test_a_busy_lock_refuses_the_rollout(monkeypatch, tmp_path):
    Servers(monkeypatch, {"web1": "app:2", "web2": "app:2"})
    monkeypatch.setattr(chain, "_fire", lambda *a: None)
    args = {"targets": "web1,web2", "pin": False}
    with chain.chain_run_store.Lock(str(tmp_path / "chain"), "app", {"image": "app:9"}):
        ret = chain.rollout("app", "app:3", **args)
    assert ret["result"] is False and ret["retcode"] == 1
    assert "a rollout of app is already running" in ret["comment"] and "app:9" in ret["comment"]
    assert chain.rollout("app", "app:3", **args)["result"] is True


def test_the_runners_check_says_why_with_the_health_output(monkeypatch):
    replicas = {
        "app-1": {"running": True, "health": "healthy", "generation": "g"},
        "app-2": {"running": True, "health": "unhealthy", "generation": "g"},
    }
    st = {"replicas": replicas, "serving": ["app-1"], "current": "app:3"}
    monkeypatch.setattr(chain, "_server_status", lambda conf, target: st)
    asked = []

    class Client:
        def cmd(self, target, fun, args, timeout):
            asked.append((target, fun, args))
            log = [{"ExitCode": 1, "Output": "HTTP 503\nversion 3 refused\n"}]
            return {target: {"State": {"Health": {"Status": "unhealthy", "Log": log}}}}

    monkeypatch.setattr(chain, "_client", Client)
    assert chain._check_server(conf(frontend="fe"), "web2", st) == (
        "not healthy: app-2; app-2: unhealthy: HTTP 503 version 3 refused"
    )
    assert asked == [("web2", "container.inspect", ["app-2"])]
    replicas["app-2"]["health"] = "healthy"
    st["serving"] = ["app-1", "app-2"]
    assert chain._check_server(conf(frontend="fe"), "web2", st) is None


def test_a_rollout_under_test_only_reads(monkeypatch, fired):
    """rollout(test=True), what chain.rolled_out calls under test=True: what would change, no
    deploy, no lock, no history entry, no event."""
    servers = Servers(monkeypatch, {"web1": "app:2", "web2": "app:3"})
    monkeypatch.setattr(chain.chain_run_store, "Lock", lambda *a: pytest.fail("locked"))
    ret = chain.rollout("app", "app:3", targets=["web1", "web2"], pin=False, test=True)
    assert ret["result"] is None
    assert ret["changes"] == {
        "web1": {"old": "app:2", "new": "app:3"},
        "web2": {"old": "app:3", "new": "app:3"},
    }
    assert ret["comment"] == "rollout of app to app:3: would be rolled out to web1, web2"
    assert servers.applied == [] and fired == [] and chain.history("app") == []

    monkeypatch.setattr(
        chain, "_unchanged", lambda conf, image, app, waited=None: {"web1": {}, "web2": {}}
    )
    ret = chain.rollout("app", "app:3", targets="web1,web2", pin=False, test="true")
    assert (ret["result"], ret["changes"]) == (True, {})
    assert ret["comment"] == "rollout of app to app:3: no change, every server already runs it"
    assert servers.applied == [] and fired == [] and chain.history("app") == []


def test_a_server_whose_minion_does_not_answer_fails_saying_so_and_the_rest_roll_back(
    monkeypatch, fired
):
    """Every call of the runner goes through ``_gather``: a minion that did not answer Salt's
    job check comes back as a ``NoAnswer``, which fails that server with its line (issue 17,
    fault 6)."""
    down = chain.chain_gather.unreachable("web2", 3)
    healthy = {"current": "app:1", "replicas": {"r": {"running": True, "generation": 1}}}
    applied = []

    def gather(calls, timeout, notes=None):
        out = {}
        for key, (target, fun, _args, kwarg) in calls.items():
            if target == "web2":
                out[key] = down
            elif fun == "state.apply":
                applied.append((target, kwarg["pillar"]["chain"]["image"]))
                out[key] = {"s": {"result": True, "changes": {"x": 1}, "comment": ""}}
            else:
                out[key] = healthy
        return out

    monkeypatch.setattr(chain, "_gather", gather)
    ret = chain.rollout("api", "app:2", targets="web1,web2", pin=False)
    assert ret["result"] is False
    line = "web2 is unreachable: it did not answer Salt's job check (saltutil.find_job) within 3 s"
    assert ret["servers"]["web2"]["comment"] == line
    assert ret["rolled_back"]["web1"] == dict(
        ret["rolled_back"]["web1"], result=True, image="app:1"
    )
    assert [a for a in applied if a[0] == "web1"][-2:] == [("web1", "app:2"), ("web1", "app:1")]
    assert ret["now"] == {"web1": "app:1", "web2": f"unknown ({line})"}
    assert f"  web2: {line}" in ret["comment"].splitlines()
    with pytest.raises(chain.CommandExecutionError, match=re.escape(line)):
        chain._server_status(chain._app_conf("api", {"targets": "web2"}), "web2")


def test_the_no_op_check_is_skipped_when_the_status_says_the_digest_runs_nowhere(
    monkeypatch, fired
):
    """A pinned digest that some server does not run changes that server for sure: the rollout
    goes on from the servers' status without the test-mode check; otherwise the check runs."""
    servers = Servers(
        monkeypatch, {"web1": "127.0.0.1:5050/r@sha256:2", "web2": "127.0.0.1:5050/r@sha256:2"}
    )
    checked = []
    monkeypatch.setattr(
        chain, "_unchanged", lambda conf, image, app, waited=None: checked.append(1)
    )

    def statuses(conf, targets, pull=None):
        servers.pulled.append(pull)
        return {
            t: {
                "current": servers.running[t],
                "replicas": {"a": {"running": True, "image": servers.running[t]}},
            }
            for t in targets
        }

    monkeypatch.setattr(chain, "_statuses", statuses)
    ret = chain._rollout("app", "127.0.0.1:5050/r@sha256:3", "v3", conf())
    assert ret["result"] is True and checked == [] and len(servers.applied) == 3
    # pulled on every server in the first status round, before the canary; not after a wave
    assert servers.pulled == ["127.0.0.1:5050/r@sha256:3", None, None]
    assert ret["changes"]["web1"] == {
        "old": "127.0.0.1:5050/r@sha256:2",
        "new": "127.0.0.1:5050/r@sha256:3",
    }
    # every server runs it already: the check decides (here: not a no-op, drift)
    ret = chain._rollout("app", "127.0.0.1:5050/r@sha256:3", "v3", conf())
    assert checked == [1] and ret["result"] is True


def test_the_first_status_round_pulls_a_pinned_image_on_every_server(monkeypatch, caplog):
    asked = {}

    def gather(calls, timeout, notes=None):
        asked.update(calls)
        out = {k: {"replicas": {}} for k in calls if not isinstance(k, tuple)}
        out[("pull", "web1")] = {"id": "sha256:1", "changed": True}
        out[("pull", "web2")] = "ERROR: pull failed: no route"
        return out

    monkeypatch.setattr(chain, "_gather", gather)
    image = "127.0.0.1:5050/chain/app@sha256:2"
    got = chain._statuses(conf(pillar={"chain": {"profile": "p"}}), ["web1", "web2"], pull=image)
    assert got == {"web1": {"replicas": {}}, "web2": {"replicas": {}}}
    assert asked[("pull", "web2")] == ("web2", "container.image_pull", [image], {"profile": "p"})
    assert "web2: pre-pull of" in caplog.text and "web1: pre-pull" not in caplog.text
    asked.clear()
    chain._statuses(conf(), ["web1"])
    assert list(asked) == ["web1"]


class Swarm:
    """An app in Swarm mode: one service on manager ``m``; ``serving`` says whether its tasks
    serve after an apply (the runner's own check)."""

    def __init__(self, monkeypatch, running, serving=True, state_ok=True):
        self.running, self.serving, self.state_ok, self.applied = running, serving, state_ok, []
        monkeypatch.setattr(chain, "_unchanged", lambda conf, image, app, waited=None: None)
        monkeypatch.setattr(chain, "_statuses", self.statuses)
        monkeypatch.setattr(chain, "_apply_deploy_state", self.apply)
        monkeypatch.setattr(chain, "_where_now", lambda conf: {"m": self.running})

    def statuses(self, conf, targets, pull=None):
        assert targets == ["m"] and pull is None
        if self.running is None:
            return {"m": None}
        task = {"id": "t" * 25, "state": "running", "desired": "running", "node": "n1"}
        task.update(image=self.running, addr="10.0.0.3", generation="g")
        task = chain.swarm_rollout.annotate(task, {"10.0.0.3"} if self.serving else set())
        found = {"service": "app", "replicas": 1, "update_state": "completed"}
        return {"m": dict(found, current=self.running, tasks={"n1": [task]})}

    def apply(self, conf, target, image, app, wave=None):
        self.applied.append((target, image, wave))
        if not self.state_ok:
            return False, "Service app: not serving; rolled back to the previous spec", 9.0, False
        self.running = image
        return True, "3 state(s) succeeded", 5.0, True


SWARM_PILLAR = {"chain": {"service": {"mode": "swarm", "manager": "m"}}}


def test_swarm_mode_applies_once_on_the_manager_and_reports_the_tasks(monkeypatch, fired):
    swarm = Swarm(monkeypatch, "app:2")
    conf = chain._app_conf("app", {"pillar": SWARM_PILLAR, "frontend": "fe"})
    ret = chain._rollout("app", "app:3", "v3", conf)
    assert ret["result"] is True and ret["mode"] == "swarm" and ret["no_op"] is False
    assert swarm.applied == [("m", "app:3", None)]  # once, no canary wave
    assert ret["changes"] == {"m": {"old": "app:2", "new": "app:3"}}
    assert ret["servers"]["m"]["tasks"]["n1"][0]["serving"] is True
    assert [stage for stage, _ in fired] == ["start", "server", "server/done", "done"]
    assert chain.history("app")[0]["servers"]["m"]["service"] == "app"


def test_swarm_mode_a_service_not_serving_after_the_apply_goes_back(monkeypatch, fired):
    swarm = Swarm(monkeypatch, "app:2", serving=False)
    conf = chain._app_conf("app", {"pillar": SWARM_PILLAR, "frontend": "fe"})
    ret = chain._rollout("app", "app:3", "v3", conf)
    assert ret["result"] is False and ret["retcode"] == 1
    assert "not serving in frontend fe" in ret["servers"]["m"]["comment"]
    assert swarm.applied == [("m", "app:3", None), ("m", "app:2", None)]
    assert ret["rolled_back"]["m"]["result"] is True and ret["changes"] == {}


def test_swarm_mode_a_failed_apply_the_state_rolled_back_is_not_applied_again(monkeypatch, fired):
    swarm = Swarm(monkeypatch, "app:2", state_ok=False)
    conf = chain._app_conf("app", {"pillar": SWARM_PILLAR, "frontend": "fe"})
    ret = chain._rollout("app", "app:3", "v3", conf)
    assert ret["result"] is False and swarm.applied == [("m", "app:3", None)]
    assert ret["now"] == {"m": "app:2"} and ret["changes"] == {}
    assert "rolled back to the previous spec" in ret["comment"]


def test_swarm_mode_status_of_a_service_not_deployed_yet_says_so(monkeypatch):
    monkeypatch.setattr(chain, "_gather", lambda calls, timeout, notes=None: {"m": None})
    conf = chain._app_conf("app", {"pillar": SWARM_PILLAR})
    with pytest.raises(chain.CommandExecutionError, match="m: no Swarm service app"):
        chain._server_status(conf, "m")
    # the control: the container mode's answer None is no answer
    with pytest.raises(chain.CommandExecutionError, match="no status answer"):
        chain._server_status(chain._app_conf("app", {"targets": ["m"]}), "m")
