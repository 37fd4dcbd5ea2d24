"""
Beacon ``container_events``: container deaths, OOM kills and health changes as Salt events.

.. versionadded:: 0.1.0

:depends: docker >= 7.1 (the Python SDK); a Docker engine reachable from the minion.

A background (daemon) thread follows the engine's event stream (``GET /events`` filtered on
container ``die``, ``oom`` and ``health_status``) and queues what it sees; every run of the beacon
hands the queued events to Salt, which fires each one on the master's event bus as::

    salt/beacon/<minion id>/container_events/<action>/<container name>

with the data:

.. code-block:: yaml

    action: die                 # die | oom | health_status
    status: null                # healthy | unhealthy | starting for health_status
    exit_code: 3                # for die
    name: web
    container_id: 5b1d0c8e...   # ``id`` stays the minion id, as on every beacon event
    image: saltext-chain/busybox:latest
    labels: {app: web}
    engine: default             # the container profile the event came from
    time: 1795680000.123456     # when the engine saw it (seconds since the epoch)

One thread per configured beacon and engine profile; repeated runs reuse it. When the engine goes
away the thread reconnects with an exponential back-off (0.5 s doubling up to 30 s) and asks the
engine to replay what happened since the last event it saw, so nothing the engine still remembers
is lost. The queue between the thread and the beacon is bounded (``queue_size``, default 1000,
the oldest events are dropped first with a warning). Salt closes the beacon on a beacon or module
refresh, which stops the thread; the next run starts a fresh one.

Configuration (minion config or pillar, or ``salt <minion> beacons.add``):

.. code-block:: yaml

    beacons:
      container_events:
        - profile: build-host          # optional: a container profile name, or a dict
        - actions: [die, oom]          # optional: default die, oom and health_status
        - labels:                      # optional: only containers carrying all of these;
            - app                      #   "key" or "key=value". The events then only
            - tier=web                 #   carry these labels.
        - interval: 5                  # Salt's own option: run every 5 s (default: each loop)

The profile is resolved by the ``container`` execution module itself
(``__salt__["container.connection"]``: ``config.get`` on ``container:profiles:NAME``; a dict may
name a base profile in ``name`` and override its keys). Without one,
``container:default_profile``, then ``DOCKER_HOST`` or the local socket is used.

Shared code: the client and its TLS settings come from ``chain_docker_client`` and the profile
keys from ``chain_profiles`` (``_utils/``). Salt puts no utils directory on ``sys.path`` for
beacons, so :func:`_shared` imports them as ``saltext.chain.utils.*`` (pip install) and
otherwise (``file_roots`` + ``saltutil.sync_all``) takes the flat modules the ``container``
execution module imported when it loaded: looking up ``__salt__["container.connection"]``
loads that module, with the synced utils directory on ``sys.path``, which puts
``chain_docker_client`` and ``chain_profiles`` in ``sys.modules``. The beacon needs the
execution module anyway (it resolves the profile), so this adds no dependency.
"""

import collections
import copy
import importlib
import json
import logging
import sys
import threading
import time

from salt.exceptions import SaltInvocationError

try:
    import docker  # noqa: F401 - the SDK is what the beacon needs to load

    HAS_DOCKER = True
except ImportError:  # pragma: no cover - exercised only without the SDK
    HAS_DOCKER = False

log = logging.getLogger(__name__)

__virtualname__ = "container_events"

ACTIONS = ("die", "oom", "health_status")
CONFIG_KEYS = {"profile", "actions", "labels", "queue_size"}
# Keys Salt's beacon machinery itself reads from a beacon's configuration.
SALT_KEYS = {
    "interval",
    "enabled",
    "run_once",
    "disable_during_state_run",
    "beacon_module",
    "_beacon_name",
}
DEFAULT_QUEUE_SIZE = 1000
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0
# A connection that lived this long was healthy: the next failure starts the back-off afresh.
STABLE_AFTER = 5.0
# Event attributes the engine adds next to a container's labels.
NON_LABEL_ATTRIBUTES = {"name", "image", "exitCode", "execDuration", "signal"}

# (beacon name, profile key) -> _Watcher. Module-level so successive beacon runs share it.
_WATCHERS = {}
_WATCHERS_LOCK = threading.Lock()


def __virtual__():
    if not HAS_DOCKER:
        return (False, "the docker Python SDK (docker>=7.1) is not installed")
    return __virtualname__


def _shared(name):
    """A ``_utils/chain_*`` module: the package import, else the flat module the ``container``
    execution module imported when it loaded (see the module docstring)."""
    try:
        return importlib.import_module(f"saltext.chain.utils.{name}")
    except ImportError as _exc:
        if not str(_exc.name).startswith("saltext"):
            raise  # a real import error inside the util, not a missing package
        pass
    if name not in sys.modules:
        __salt__["container.connection"]  # pylint: disable=pointless-statement
    return sys.modules[name]


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def _to_dict(config):
    if isinstance(config, dict):
        return dict(config)
    merged = {}
    for item in config:
        merged.update(item)
    return merged


def _label_filters(labels):
    """``["a", "b=c"]`` -> ``{"a": None, "b": "c"}``."""
    wanted = {}
    for item in labels or ():
        key, sep, value = str(item).partition("=")
        wanted[key] = value if sep else None
    return wanted


def validate(config):
    """
    Validate the beacon configuration: a list of one-key dicts with the optional keys
    ``profile`` (name or dict), ``actions`` (subset of ``die``, ``oom``, ``health_status``),
    ``labels`` (list of ``key`` or ``key=value``) and ``queue_size`` (positive integer).

    .. code-block:: yaml

        beacons:
          container_events:
            - actions: [die, health_status]
            - labels: [app]
    """
    if not isinstance(config, list) or not all(isinstance(item, dict) for item in config):
        return False, "Configuration for container_events beacon must be a list of dicts."
    conf = _to_dict(config)
    unknown = set(conf) - CONFIG_KEYS - SALT_KEYS
    if unknown:
        return False, f"container_events beacon: unknown option(s): {', '.join(sorted(unknown))}"
    profile = conf.get("profile")
    if profile is not None:
        if isinstance(profile, dict):
            bad = set(profile) - _shared("chain_profiles").KEYS["container"]
            if bad:
                return False, (
                    f"container_events beacon: unknown profile key(s): {', '.join(sorted(bad))}"
                )
        elif not isinstance(profile, str):
            return False, "container_events beacon: profile must be a name or a dict"
    actions = conf.get("actions")
    if actions is not None:
        if isinstance(actions, str) or not isinstance(actions, (list, tuple)) or not actions:
            return False, "container_events beacon: actions must be a non-empty list"
        bad = [a for a in actions if a not in ACTIONS]
        if bad:
            return False, (
                f"container_events beacon: unknown action(s) {', '.join(map(str, bad))}; "
                f"choose from {', '.join(ACTIONS)}"
            )
    labels = conf.get("labels")
    if labels is not None:
        if isinstance(labels, str) or not isinstance(labels, (list, tuple)):
            return False, "container_events beacon: labels must be a list of 'key' or 'key=value'"
        if not all(isinstance(item, str) and item.partition("=")[0] for item in labels):
            return False, "container_events beacon: labels must be a list of 'key' or 'key=value'"
    size = conf.get("queue_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        return False, "container_events beacon: queue_size must be a positive integer"
    return True, "Valid beacon configuration"


def _resolve_profile(profile):
    """The effective connection settings, resolved by the ``container`` execution module itself
    (named profile, inline overrides, default profile, ``DOCKER_HOST``)."""
    try:
        return __salt__["container.connection"](profile)
    except SaltInvocationError as err:
        raise ValueError(str(err)) from err


# ---------------------------------------------------------------------------------------------
# The watcher thread
# ---------------------------------------------------------------------------------------------


def _since(time_nano):
    """The engine's ``since`` parameter for a nanosecond timestamp, without float rounding."""
    return f"{time_nano // 10**9}.{time_nano % 10**9:09d}"


class _Watcher:
    """Follows one engine's container events in a daemon thread, into a bounded queue."""

    def __init__(self, key, conf, queue_size, client_module):
        self.key = key
        self.conf = conf
        self.client_module = client_module  # chain_docker_client
        self.queue = collections.deque(maxlen=queue_size)
        self.dropped = 0
        self.connected = False
        self.last_error = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._stream = None
        self._client = None
        # Replay from here on (re)connect; dedupe what the replay repeats.
        self._last_nano = time.time_ns()
        self._seen_at_last = set()
        self.thread = threading.Thread(
            target=self._run, name=f"container_events[{conf['name']}]", daemon=True
        )

    def start(self):
        self.thread.start()

    def alive(self):
        return self.thread.is_alive() and not self._stop.is_set()

    def stop(self):
        self._stop.set()
        with self._lock:
            stream, client = self._stream, self._client
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - the stream may already be broken
                pass
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass

    def drain(self):
        with self._queue_lock:
            events = list(self.queue)
            self.queue.clear()
        return events

    def resize(self, queue_size):
        with self._queue_lock:
            if self.queue.maxlen != queue_size:
                self.queue = collections.deque(self.queue, maxlen=queue_size)

    # -- thread side ---------------------------------------------------------------------------

    def _connect(self):
        client = self.client_module.make_client(self.conf)
        stream = client.events(
            decode=True,
            since=_since(self._last_nano),
            filters={"type": ["container"], "event": list(ACTIONS)},
        )
        return client, stream

    def _run(self):
        delay = BACKOFF_INITIAL
        reported_down = False
        while not self._stop.is_set():
            started = time.monotonic()
            error = None
            try:
                client, stream = self._connect()
                with self._lock:
                    self._client, self._stream = client, stream
                if self._stop.is_set():
                    break
                self.connected, self.last_error = True, None
                log.info(
                    "container_events: following the engine of profile '%s'", self.conf["name"]
                )
                reported_down = False
                for event in stream:
                    if self._stop.is_set():
                        break
                    try:
                        self._enqueue(event)
                    except Exception:  # noqa: BLE001 - one odd event must not stop the stream
                        log.debug("container_events: skipped event %r", event, exc_info=True)
                # The stream ended: the engine stopped or the connection broke.
                error = "the event stream ended"
            except Exception as err:  # noqa: BLE001 - the thread must survive anything
                error = str(err) or type(err).__name__
            finally:
                self.connected = False
                self._close_current()
            if self._stop.is_set():
                break
            self.last_error = error
            if not reported_down:
                log.warning(
                    "container_events: engine of profile '%s' unavailable, retrying "
                    "with back-off: %s",
                    self.conf["name"],
                    error,
                )
                reported_down = True
            else:
                log.debug(
                    "container_events: engine of profile '%s' still unavailable: %s",
                    self.conf["name"],
                    error,
                )
            if time.monotonic() - started >= STABLE_AFTER:
                delay = BACKOFF_INITIAL
            self._stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    def _close_current(self):
        with self._lock:
            stream, client = self._stream, self._client
            self._stream = self._client = None
        for thing in (stream, client):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # noqa: BLE001
                    pass

    def _enqueue(self, event):
        if not isinstance(event, dict) or event.get("Type") != "container":
            return
        nano = int(event.get("timeNano") or int(event.get("time") or 0) * 10**9)
        actor = event.get("Actor") or {}
        marker = (actor.get("ID") or event.get("id"), event.get("Action"))
        if nano < self._last_nano or (nano == self._last_nano and marker in self._seen_at_last):
            return  # replayed after a reconnect
        if nano > self._last_nano:
            self._last_nano, self._seen_at_last = nano, set()
        self._seen_at_last.add(marker)
        item = _beacon_event(event, self.conf["name"])
        if item is None:
            return
        with self._queue_lock:
            full = len(self.queue) == self.queue.maxlen
            self.queue.append(item)
        if full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning(
                    "container_events: queue of profile '%s' full, dropped the oldest "
                    "event (%d so far)",
                    self.conf["name"],
                    self.dropped,
                )


def _beacon_event(event, engine):
    """Translate one engine event into the beacon's event data (``None`` if not ours)."""
    action, _, status = (event.get("Action") or event.get("status") or "").partition(":")
    action, status = action.strip(), status.strip() or None
    if action not in ACTIONS:
        return None
    actor = event.get("Actor") or {}
    attrs = dict(actor.get("Attributes") or {})
    name = attrs.get("name") or (actor.get("ID") or "")[:12]
    exit_code = attrs.get("exitCode")
    if exit_code is not None:
        try:
            exit_code = int(exit_code)
        except (TypeError, ValueError):
            pass
    nano = event.get("timeNano")
    return {
        "tag": f"{action}/{name}",
        "action": action,
        "status": status,
        "exit_code": exit_code,
        "name": name,
        "container_id": actor.get("ID") or event.get("id"),
        "image": attrs.get("image") or event.get("from"),
        "labels": {k: v for k, v in attrs.items() if k not in NON_LABEL_ATTRIBUTES},
        "engine": engine,
        "time": nano / 1e9 if nano else event.get("time"),
    }


def _selected(item, actions, wanted_labels):
    if item["action"] not in actions:
        return False
    labels = item["labels"]
    for key, value in wanted_labels.items():
        if key not in labels or (value is not None and labels[key] != value):
            return False
    return True


def _watcher(beacon_name, conf, queue_size):
    key = (beacon_name, json.dumps(conf, sort_keys=True, default=str))
    with _WATCHERS_LOCK:
        watcher = _WATCHERS.get(key)
        if watcher is not None and watcher.alive():
            watcher.resize(queue_size)
            return watcher
        # This beacon's profile changed (beacons.modify): stop following the old engine.
        stale = [_WATCHERS.pop(k) for k in list(_WATCHERS) if k[0] == beacon_name]
        watcher = _Watcher(key, conf, queue_size, _shared("chain_docker_client"))
        _WATCHERS[key] = watcher
        watcher.start()
    for old in stale:
        old.stop()
    return watcher


# ---------------------------------------------------------------------------------------------
# Beacon entry points
# ---------------------------------------------------------------------------------------------


def beacon(config):
    """
    Return the container events seen since the previous run (and start following the engine
    on the first run). Never raises: when the engine is down it returns ``[]`` and keeps
    reconnecting in the background.

    .. code-block:: yaml

        beacons:
          container_events:
            - profile: default
            - actions: [die, oom, health_status]
            - labels: [app]
            - interval: 5
    """
    try:
        valid, comment = validate(config)
        if not valid:
            log.error("%s", comment)
            return []
        conf = _to_dict(config)
        beacon_name = conf.get("_beacon_name", __virtualname__)
        profile = _resolve_profile(copy.deepcopy(conf.get("profile")))
        watcher = _watcher(beacon_name, profile, conf.get("queue_size") or DEFAULT_QUEUE_SIZE)
        actions = set(conf.get("actions") or ACTIONS)
        wanted = _label_filters(conf.get("labels"))
        ret = []
        for item in watcher.drain():
            if not _selected(item, actions, wanted):
                continue
            if wanted:
                item["labels"] = {k: v for k, v in item["labels"].items() if k in wanted}
            ret.append(item)
        return ret
    except Exception as err:  # noqa: BLE001 - a beacon must never break the minion's loop
        log.error("container_events beacon: %s", err, exc_info=True)
        return []


def close(config):
    """
    Stop following the engine(s) for this beacon; Salt calls it when beacons are refreshed or
    disabled during a state run. The next ``beacon`` run starts following again.

    .. code-block:: yaml

        beacons:
          container_events:
            - disable_during_state_run: true
    """
    try:
        conf = _to_dict(config) if isinstance(config, (list, dict)) else {}
        beacon_name = conf.get("_beacon_name", __virtualname__)
        with _WATCHERS_LOCK:
            keys = [key for key in _WATCHERS if key[0] == beacon_name]
            watchers = [_WATCHERS.pop(key) for key in keys]
        for watcher in watchers:
            watcher.stop()
    except Exception as err:  # noqa: BLE001
        log.error("container_events beacon: closing failed: %s", err, exc_info=True)
