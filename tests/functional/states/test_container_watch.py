"""`watch` on container.running, through real requisites (state.template_str)."""

import json

import pytest

from tests.support import engines
from tests.support.engines import BUSYBOX, RUN, TEST_LABEL

pytestmark = pytest.mark.docker

SLS = """
config:
  file.managed:
    - name: {path}
    - contents: {contents}

sc-{run}-watched:
  container.running:
    - image: {image}
    - command: {command}
    - labels: {{{label}: "{run}"}}
    - memory: {memory}
    - watch_action: {action}
    - profile: {engine}
    - watch:
      - file: config
"""


def _apply(modules, **kw):
    command = json.dumps(engines.stoppable("sleep 600"))
    ret = modules.state.template_str(
        SLS.format(image=BUSYBOX, label=TEST_LABEL, run=RUN, command=command, **kw)
    )
    by_id = {v["__id__"]: v for v in ret.raw.values()}
    assert all(v["result"] is True for v in by_id.values()), by_id
    return by_id


def _started(modules, engine):
    data = modules.container.inspect(f"sc-{RUN}-watched", profile=engine)
    return data["Id"], data["State"]["StartedAt"]


def test_watch_restart_when_only_the_watched_file_changed(modules, engine, tmp_path):
    path = tmp_path / "app.conf"
    _apply(modules, path=path, contents="a", memory="32m", action="restart", engine=engine)
    cid, started = _started(modules, engine)
    ret = _apply(modules, path=path, contents="b", memory="32m", action="restart", engine=engine)
    assert ret[f"sc-{RUN}-watched"]["changes"] == {"watch": {"old": None, "new": "restart"}}
    new_cid, new_started = _started(modules, engine)
    assert new_cid == cid and new_started != started
    quiet = _apply(modules, path=path, contents="b", memory="32m", action="restart", engine=engine)
    assert quiet[f"sc-{RUN}-watched"]["changes"] == {}


def test_watch_still_acts_when_the_run_changed_something_else(modules, engine, tmp_path):
    """saltstack/salt#68958: an in-place change must not swallow the watch."""
    path = tmp_path / "app.conf"
    _apply(modules, path=path, contents="a", memory="32m", action="recreate", engine=engine)
    cid, _ = _started(modules, engine)
    ret = _apply(modules, path=path, contents="b", memory="48m", action="recreate", engine=engine)
    changes = ret[f"sc-{RUN}-watched"]["changes"]
    assert "memory" in changes and changes["watch"] == {"old": None, "new": "recreate"}, changes
    new_cid, _ = _started(modules, engine)
    assert new_cid != cid
    assert (
        modules.container.inspect(f"sc-{RUN}-watched", profile=engine)["HostConfig"]["Memory"]
        == 48 * 1024 * 1024
    )


def test_in_place_change_without_watched_change_keeps_the_container(modules, engine, tmp_path):
    path = tmp_path / "app.conf"
    _apply(modules, path=path, contents="a", memory="32m", action="recreate", engine=engine)
    cid, started = _started(modules, engine)
    ret = _apply(modules, path=path, contents="a", memory="40m", action="recreate", engine=engine)
    assert set(ret[f"sc-{RUN}-watched"]["changes"]) == {"memory"}
    assert _started(modules, engine) == (cid, started)
