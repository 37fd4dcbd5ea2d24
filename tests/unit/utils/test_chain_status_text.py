"""chain.status as text (each app with its own Jenkins job), chain.inventory's rows and CSV,
and a rollout's outcome as one readable comment."""

from saltext.chain.utils import chain_status_text as text

JENKINS = {"url": "http://ci/", "agents": {}, "queue": [], "builds": []}


def app_data(job_builds=()):
    return {
        "servers": {
            "web1": {
                "current": "app@sha256:1",
                "replicas": {
                    "app-web1-1": {"status": "running", "health": "healthy", "slot": 1},
                    "app-web1-2": {"status": "exited", "health": None, "slot": None},
                },
            },
            "web2": {"error": "web2: no status answer (False)"},
        },
        "last_deploy": {"kind": "rollout", "result": True, "image": "app@sha256:1", "ref": "v1"},
        "jenkins": dict(JENKINS, builds=list(job_builds)),
        "registry": {"repository": "r/app", "tags": {"v1": "sha256:1"}, "truncated": True},
    }


def test_each_app_shows_its_own_jenkins_job():
    # regression: every app showed the last app's job (a loop variable used after the loop)
    data = {"api": app_data(), "web": app_data()}
    out = text.table(data, {"api": "api-pipeline", "web": "web-pipeline"}, tags=20)
    blocks = out.split("app web:")
    assert "job api-pipeline" in blocks[0] and "web-pipeline" not in blocks[0]
    assert "job web-pipeline" in blocks[1] and "api-pipeline" not in blocks[1]


def test_table_lines():
    out = text.table({"app": app_data()}, {"app": None}, tags=2).splitlines()
    assert out[0] == "app app: last rollout ok app@sha256:1 ref v1"
    assert out[1] == "  web1: app@sha256:1"
    assert out[2].split() == ["app-web1-1", "running", "healthy", "s1", "out"]
    assert out[3].split() == ["app-web1-2", "exited", "-", "s-", "out"]
    assert out[4] == "  web2: web2: no status answer (False)"
    assert "job" not in "\n".join(out)  # no jenkins_job: no job section
    assert out[-3:] == [
        "  registry r/app:",
        "    v1                                       sha256:1",
        "    (1 of more tags: the deployed ones first; tags=N shows more)",
    ]


def test_table_without_a_deploy_or_extras():
    data = {"app": {"servers": {}, "last_deploy": None, "jenkins": None, "registry": None}}
    assert text.table(data, {}, tags=0) == "app app: last deploy none"


def test_inventory_rows_and_csv():
    ret = {
        "m2": "Minion did not return. [No response]",
        "m1": {
            "b": {
                "id": "0123456789abcdef",
                "image": "app:1",
                "image_id": "sha256:aa",
                "state": "running",
                "status": "Up 3 minutes (health: starting)",
                "ports": ["127.0.0.1:8080->80/tcp", "443/tcp"],
                "labels": {"z": "1", "a": "2"},
            },
            "a": {"id": "fedcba", "state": "exited", "status": "Exited (0)"},
        },
    }
    rows = text.inventory_rows(ret)
    assert [(r["minion"], r["name"]) for r in rows] == [("m1", "a"), ("m1", "b"), ("m2", None)]
    assert rows[1]["id"] == "0123456789ab" and rows[1]["health"] == "starting"
    assert rows[0]["health"] is None and rows[2]["error"].startswith("Minion did not return")
    lines = text.inventory_csv(rows).splitlines()
    assert lines[0] == "engine,minions,name,id,image,image_id,state,health,ports,labels"
    assert lines[2] == (
        ",m1,b,0123456789ab,app:1,sha256:aa,running,starting,127.0.0.1:8080->80/tcp 443/tcp,"
        '"{""a"": ""2"", ""z"": ""1""}"'
    )
    assert lines[3] == ",m2,,,,,,,,{}"


def test_inventory_lists_a_shared_engines_containers_once_naming_its_minions():
    """web1 and web2 share engine 2: 6 containers are 6 rows, not 12 (a CMDB got duplicates)."""
    ps = {f"c{i}": {"id": f"{i:016x}", "state": "running"} for i in range(6)}
    ret = {"web1": ps, "web2": ps, "build1": {"reg": {"id": "ab" * 8, "state": "running"}}}
    # engines 1 and 2 of scripts/bootstrap share /etc/docker, hence docker's ID: the data root
    # tells them apart
    grain = {"available": True, "id": "VUEO:VHOC", "name": "vm", "root_dir": "/var/lib/docker"}
    grain2 = dict(grain, root_dir="/var/lib/saltext-chain/docker2")
    engines = {
        "web1": text.engine_of(grain2),
        "web2": text.engine_of(grain2),
        "build1": text.engine_of(grain),
    }
    assert text.engine_of({"available": False}) is None and text.engine_of(None) is None
    rows = text.inventory_rows(ret, engines)
    assert len(rows) == 7
    shared = [r for r in rows if r["engine"] == "vm:/var/lib/saltext-chain/docker2"]
    assert len(shared) == 6 and {tuple(r["minions"]) for r in shared} == {("web1", "web2")}
    csv_line = text.inventory_csv(shared).splitlines()[1]
    assert csv_line.startswith("vm:/var/lib/saltext-chain/docker2,web1 web2,c0,")
    # one minion of the shared engine did not answer: the other's answer is the engine's
    rows = text.inventory_rows(dict(ret, web1="Minion did not return."), engines)
    assert len([r for r in rows if r["minions"] == ["web1", "web2"]]) == 6


def test_health_output():
    inspect = {
        "State": {
            "Health": {
                "Status": "unhealthy",
                "Log": [{"Output": "old"}, {"ExitCode": 1, "Output": "Traceback ...\n  boom\n"}],
            }
        }
    }
    assert text.health_output(inspect) == "Traceback ... boom"
    # a timed-out probe after it says less than the answer before it (ci41); all timed out: that
    late = {"ExitCode": -1, "Output": "Health check exceeded timeout (1s)"}
    inspect["State"]["Health"]["Log"].append(late)
    assert text.health_output(inspect) == "Traceback ... boom"
    inspect["State"]["Health"]["Log"] = [late]
    assert text.health_output(inspect) == "Health check exceeded timeout (1s)"
    assert text.health_output({"State": {}}) is None
    assert text.health_output(None) is None


ENTRY = {"app": "app", "kind": "rollout", "image": "app:3", "rolled_back": {}}


def test_a_success_and_a_no_op_are_one_line():
    ok = {"result": True, "comment": "4 state(s) succeeded"}
    entry = dict(ENTRY, result=True, no_op=False, servers={"web1": ok, "web2": ok})
    assert text.rollout_comment(entry) == "rollout of app to app:3: 2 server(s) updated"
    entry["servers"]["web2"] = {"result": False, "comment": "no answer"}
    assert text.rollout_comment(entry) == (
        "rollout of app to app:3: 1 server(s) updated (web2 failed, tolerated)"
    )
    entry = dict(entry, no_op=True)
    assert text.rollout_comment(entry) == (
        "rollout of app to app:3: no change, 2 server(s) already run it"
    )


def test_a_failure_says_where_why_what_was_rolled_back_and_where_things_stand():
    why = (
        "app: Service app-web2: the update to app:3 failed and was rolled back to app:2: "
        "app-web2-1 is unhealthy; last log lines: version 3 refused"
    )
    entry = dict(
        ENTRY,
        result=False,
        no_op=False,
        servers={
            "web1": {"result": True, "comment": "4 state(s) succeeded"},
            "web2": {"result": False, "comment": why},
        },
        rolled_back={"web1": {"result": True, "image": "app:2", "comment": "ok"}},
        now={"web1": "app:2", "web2": "app:2", "web3": None},
    )
    assert text.rollout_comment(entry).splitlines() == [
        "rollout of app to app:3 failed on web2",
        f"  web2: {why}",
        "  rolled back web1 to app:2: ok",
        "  now: web1 runs app:2, web2 runs app:2, web3 runs nothing",
    ]


def test_a_failure_on_the_first_server_and_rollbacks_that_failed():
    entry = dict(
        ENTRY,
        result=False,
        no_op=False,
        servers={"web1": {"result": False, "comment": "not healthy: r1; r1: unhealthy: 503"}},
        now={"web1": "app:2"},
    )
    assert text.rollout_comment(entry).splitlines()[2:] == [
        "  rolled back: none (no other server had been updated)",
        "  now: web1 runs app:2",
    ]
    entry["rolled_back"] = {
        "web0": {"result": False, "comment": "nothing ran before"},
        "web9": {"result": False, "image": "app:2", "comment": "app: pull refused"},
    }
    assert text.rollout_comment(entry).splitlines()[2:4] == [
        "  not rolled back web0: nothing ran before",
        "  rolled back web9 to app:2: FAILED: app: pull refused",
    ]


def test_a_servers_failure_with_detail_lines_keeps_them_indented_under_it():
    why = "deploy-app: Service app-web2: app-web2-1 is unhealthy\n\n"
    why += "already done: started app-web2-1"
    entry = dict(
        ENTRY,
        result=False,
        no_op=False,
        servers={"web2": {"result": False, "comment": why}},
        now={"web2": "app:2"},
    )
    assert text.rollout_comment(entry).splitlines() == [
        "rollout of app to app:3 failed on web2",
        "  web2: deploy-app: Service app-web2: app-web2-1 is unhealthy",
        "      already done: started app-web2-1",
        "  rolled back: none (no other server had been updated)",
        "  now: web2 runs app:2",
    ]


def test_pick_tags_puts_the_deployed_ones_first():
    from saltext.chain.utils.chain_registry import pick_tags  # pylint: disable=import-outside-toplevel

    names = ["a1", "b2", "c3", "d4", "e5"]  # the registry's order is lexical, not by age
    assert pick_tags(names, 2) == ["d4", "e5"]
    # regression: tags=2 hid the deployed tag b2
    assert pick_tags(names, 2, prefer=["b2", "zz", "b2", "a1"]) == ["b2", "a1"]
    assert pick_tags(names, 3, prefer=["b2"]) == ["b2", "d4", "e5"]
    assert pick_tags(names, 1, prefer=["c3", "a1"]) == ["c3"]
