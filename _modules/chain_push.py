"""
The source server's side of a push, on the build server's minion (issue 16): the spool of push
records that the repositories' hooks write, forwarded to the master as this minion's own events;
the branch heads the server holds (the master's poll check); the push users' htpasswd file.

.. versionadded:: 0.4.0

:depends: ``htpasswd`` (apache2-utils) on the minion for :py:func:`write_users`.

The chain's source server (``formulas/chain/source.sls``) runs in a container beside this
minion. Its hooks (git ``post-receive``, hg ``txnclose``) write one JSON file per pushed branch
head into ``/srv/spool``, a bind mount of ``<cachedir>/saltext-chain/<source name>-spool``.
:py:func:`forward` (scheduled every second by the formula) sends each record, oldest first, to
the master with tag ``chain/push/source`` and keeps it (in ``unacked/``) until the master's push
queue has it: it reads the queue's receipts through the master (``chain_push.receipts``, which
the master's ``peer_run`` allows to this minion) and sends a record again, after 2, 4, 8, 16,
then every 30 s, until its receipt is there. A master that is down, a reactor that did not
listen yet or lost the event: the record waits (at least once; the queue keeps one push per
``delivery``).

The master fires the event with the whole request load as its data: the record is
``data["data"]`` and ``data["id"]`` is this minion's id, which the master's request channel
checked against the minion's authenticated session (``salt/channel/server.py``:
``payload["id"] != payload["load"]["id"]`` refuses a mismatch). That ``id`` is what the master
trusts, never a value inside the record.
"""

import contextlib
import fcntl
import json
import logging
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import salt.channel.client
import salt.utils.data
import salt.utils.network
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import chain_htpasswd, chain_push_verify
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_htpasswd
    import chain_push_verify

log = logging.getLogger(__name__)

__virtualname__ = "chain_push"

TAG = "chain/push/source"
RECEIPTS = "chain_push.receipts"
#: Sent records wait in ``<spool>/unacked`` for the queue's receipt; acknowledged ones are kept
#: in ``sent/`` (the newest ``keep``), refused ones in ``refused/``, unreadable ones in ``bad/``.
UNACKED, SENT, REFUSED = "unacked", "sent", "refused"
#: Seconds after a send before its receipt is first asked for; the longest wait between sends.
FIRST_CHECK, MAX_DELAY = 1.0, 30.0
USER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
ZERO = "0" * 40


def __virtual__():
    return __virtualname__


# ---------------------------------------------------------------------------------------------
# The spool (hooks write, forward sends)
# ---------------------------------------------------------------------------------------------


def _spool(spool):
    """The spool directory: given, else ``<cachedir>/saltext-chain/<chain:source:name>-spool``."""
    if spool:
        return str(spool)
    name = __salt__["config.get"]("chain:source:name", "") or "chain-source"
    return os.path.join(__opts__["cachedir"], "saltext-chain", f"{name}-spool")


def _pending_names(names):
    """The record files among a spool's ``names``, oldest first (their names start with the
    push time in nanoseconds); temporary files (``.*``) and everything else are left out."""
    return sorted(n for n in names if n.endswith(".json") and not n.startswith("."))


def _probe(master_uri):
    """Fail fast when nothing listens on the master's request port (a stopped master refuses
    the connection at once), instead of waiting for the request's timeout: the pass after the
    master is back then comes within a second."""
    parts = urllib.parse.urlsplit(master_uri)
    with socket.create_connection((parts.hostname, parts.port or 4506), timeout=1):
        pass


def _master_uri():
    opts = __opts__
    if opts.get("file_client") == "local" and not opts.get("use_master_when_local"):
        raise CommandExecutionError("masterless minion: no master to forward pushes to")
    master_uri = opts.get("master_uri") or "tcp://{}:{}".format(
        salt.utils.network.ip_bracket(opts["master_ip"] if "master_ip" in opts else "127.0.0.1"),
        opts.get("master_port", 4506),
    )
    _probe(master_uri)
    return master_uri


def _request(load, timeout):
    """One request to the master over this minion's authenticated request channel (one try)."""
    master_uri = _master_uri()
    with salt.channel.client.ReqChannel.factory(__opts__, master_uri=master_uri) as channel:
        return channel.send(load, tries=1, timeout=timeout)


def _send(record, timeout):
    """Send ``record`` to the master's request server as this minion's ``_minion_event``.

    Returns only when the master answered: its worker fired the event on the master's bus
    before replying (``salt/master.py`` ``AESFuncs._minion_event``). Raises on a timeout or any
    transport/authentication error (the master did not take it, or we cannot know). An answer
    is not a receipt: the reactor may not listen yet, or drop the event (:func:`_receipts`)."""
    _request({"id": __opts__["id"], "tag": TAG, "data": record, "cmd": "_minion_event"}, timeout)


def _receipts(deliveries, timeout):
    """The queue's receipts of ``deliveries`` (``{delivery: {"push", "state"} | {"refused"}}``),
    read through the master: the runner ``chain_push.receipts`` run by the master for this
    minion (Salt's peer runner interface, what ``publish.runner`` sends: the master runs it
    only when its ``peer_run`` allows it to this minion's authenticated id). Raises when the
    master gives no receipts."""
    load = {
        "cmd": "minion_runner",
        "fun": RECEIPTS,
        # a keyword argument as a mapping: the master parses no value of it (an id of digits
        # would become a number in "deliveries=...")
        "arg": [{"__kwarg__": True, "deliveries": list(deliveries)}],
        "tmo": timeout,
        "id": __opts__["id"],
    }
    ret = _request(load, timeout)
    if not isinstance(ret, dict) or not isinstance(ret.get("receipts"), dict):
        raise CommandExecutionError(
            f"the master gave no receipts (does its peer_run allow {RECEIPTS} to "
            f"{__opts__['id']}?): {str(ret)[:200]!r}"
        )
    return ret["receipts"]


def _signed(record):
    """The record with ``sig``, its HMAC with the source key (pillar
    ``chain:push:source_key``, read from ``__pillar__``: ``pillar.get`` masks secrets in 3008),
    when this minion has one: the master tells this minion's records from events that other
    minions could forge (Salt's batched event form lets a minion write any ``id``)."""
    push = (__pillar__.get("chain") or {}).get("push") or {}
    key = push.get("source_key") if isinstance(push, dict) else None
    if not key:
        return record
    return dict(record, sig=chain_push_verify.record_signature(record, str(key)))


def _archive(directory, name, keep, into=SENT):
    """Move ``directory/name`` into ``directory/../into`` (the spool's ``sent/`` or
    ``refused/``) and keep only the newest ``keep`` there."""
    target = os.path.join(os.path.dirname(directory), into)
    os.makedirs(target, mode=0o750, exist_ok=True)
    try:
        os.replace(os.path.join(directory, name), os.path.join(target, name))
    except FileNotFoundError:
        return  # a concurrent pass (a forward by hand) moved it
    old = _pending_names(os.listdir(target))
    for stale in old[: max(0, len(old) - keep)]:
        try:
            os.unlink(os.path.join(target, stale))
        except FileNotFoundError:
            pass


def _set_aside(directory, name, why):
    """A record that cannot be sent (unreadable, not a record): moved to ``bad/``, logged."""
    root = os.path.dirname(directory) if os.path.basename(directory) == UNACKED else directory
    bad = os.path.join(root, "bad")
    os.makedirs(bad, mode=0o750, exist_ok=True)
    os.replace(os.path.join(directory, name), os.path.join(bad, name))
    log.error("chain_push: spool record %s set aside in %s: %s", name, bad, why)


def _hook_errors(directory):
    """Log what the hooks could not record (``hook-errors.log``) once, then move it to sent/."""
    path = os.path.join(directory, "hook-errors.log")
    if not os.path.exists(path):
        return 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = [line.strip() for line in fh if line.strip()]
    for line in lines:
        log.error("chain_push: a hook did not record a push: %s", line)
    os.makedirs(os.path.join(directory, "sent"), mode=0o750, exist_ok=True)
    os.replace(path, os.path.join(directory, "sent", f"hook-errors-{time.time_ns()}.log"))
    return len(lines)


def _read(path):
    with open(path, encoding="utf-8") as fh:
        record = json.load(fh)
    if not isinstance(record, dict) or not record.get("delivery"):
        raise ValueError("not a push record (no delivery)")
    return record


def _resend_delay(sends):
    """Seconds from a record's ``sends``-th send to the next one when no receipt came: 2, 4,
    8, 16, then every 30 (:data:`MAX_DELAY`)."""
    return min(MAX_DELAY, 2.0 ** max(1, int(sends)))


def _to_check(entry, now):
    """Whether to ask for the receipt of a sent record (``entry``: ``{"n": sends, "at": last
    send, "checked": asked since}``) in a pass at ``now``: once :data:`FIRST_CHECK` after each
    send, and when its next send is due (:func:`_resend_delay`)."""
    age = now - entry["at"]
    return (age >= FIRST_CHECK and not entry.get("checked")) or age >= _resend_delay(entry["n"])


def _sends_path(waiting):
    return os.path.join(waiting, ".sends")


def _load_sends(waiting, names):
    """``{name: {"n", "at", "checked"}}`` of the records in ``unacked/``; a record the file does
    not know (the file was lost) counts as sent once, at its file's time."""
    try:
        with open(_sends_path(waiting), encoding="utf-8") as fh:
            known = json.load(fh)
    except (OSError, ValueError):
        known = {}
    sends = {}
    for name in names:
        entry = known.get(name) if isinstance(known, dict) else None
        if not (isinstance(entry, dict) and isinstance(entry.get("at"), (int, float))):
            try:
                entry = {"n": 1, "at": os.stat(os.path.join(waiting, name)).st_mtime}
            except FileNotFoundError:
                continue
        sends[name] = entry
    return sends


def _save_sends(waiting, sends):
    tmp = f"{_sends_path(waiting)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(sends, fh, sort_keys=True)
    os.replace(tmp, _sends_path(waiting))


def _send_new(directory, waiting, sends, timeout, ret):
    """Send the spool's new records, oldest first, each moved to ``unacked/`` once the master
    answered; the first one the master does not take ends the pass (order kept)."""
    for name in _pending_names(os.listdir(directory)):
        path = os.path.join(directory, name)
        try:
            record = _read(path)
        except FileNotFoundError:
            continue  # another pass took it
        except (OSError, ValueError) as exc:
            _set_aside(directory, name, exc)
            continue
        try:
            _send(_signed(record), timeout)
        except Exception as exc:  # pylint: disable=broad-except
            return f"the master did not take {name}: {exc.__class__.__name__}: {exc}"
        os.replace(path, os.path.join(waiting, name))
        sends[name] = {"n": 1, "at": time.time(), "checked": False}
        ret["sent"].append(record["delivery"])
        log.debug("chain_push: forwarded %s (%s)", name, record.get("after"))
    return None


def _delivery(waiting, name):
    try:
        return _read(os.path.join(waiting, name))["delivery"]
    except (OSError, ValueError):
        return None


def _settle(waiting, sends, timeout, keep, ret):
    """Ask the queue for the receipts of the sent records that are due a look; archive the
    acknowledged ones (``sent/``), set the refused ones aside (``refused/``, logged), send the
    others again whose wait (:func:`_resend_delay`) is over. Returns an error or None."""
    now = time.time()
    due = {n: _delivery(waiting, n) for n, e in sorted(sends.items()) if _to_check(e, now)}
    due = {n: d for n, d in due.items() if d}
    if not due:
        return None
    error = None
    try:
        got = _receipts(sorted(set(due.values())), timeout)
    except Exception as exc:  # pylint: disable=broad-except
        got, error = {}, f"no receipts from the master: {exc.__class__.__name__}: {exc}"
    for name, delivery in due.items():
        receipt = got.get(delivery)
        if isinstance(receipt, dict) and receipt.get("refused"):
            log.error("chain_push: the master refused %s: %s", name, receipt["refused"])
            _archive(waiting, name, keep, into=REFUSED)
            sends.pop(name, None)
            ret["refused"].append(delivery)
        elif isinstance(receipt, dict):
            _archive(waiting, name, keep)
            sends.pop(name, None)
            ret["acked"].append(delivery)
        else:
            sends[name]["checked"] = True
    for name in sorted(n for n in due if n in sends):
        entry = sends[name]
        if now - entry["at"] < _resend_delay(entry["n"]):
            continue
        try:
            record = _read(os.path.join(waiting, name))
        except (OSError, ValueError) as exc:
            _set_aside(waiting, name, exc)
            sends.pop(name, None)
            continue
        try:
            _send(_signed(record), timeout)
        except Exception as exc:  # pylint: disable=broad-except
            return f"the master did not take {name} again: {exc.__class__.__name__}: {exc}"
        sends[name] = {"n": entry["n"] + 1, "at": time.time(), "checked": False}
        ret["resent"].append(due[name])
    return error


@contextlib.contextmanager
def _one_pass(directory):
    """An exclusive, non-blocking lock of the spool: yields whether this pass has it."""
    fd = os.open(os.path.join(directory, ".forward.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def forward(spool=None, timeout=5, keep=200):
    """Send the spool's push records to the master, each as this minion's event
    ``chain/push/source``, and keep each until the master's queue has it.

    A pass sends the new records oldest first and moves each to ``unacked/`` once the master
    answered (the first record the master does not take ends the pass: it and the rest wait
    for the next one). The master's answer is not the queue's: its reactor may not listen yet
    (a master just started) or lose the event (a full reactor pool, a restart before the
    reaction ran). So the pass then asks the queue, through the master (the runner
    ``chain_push.receipts``, allowed to this minion by the master's ``peer_run``), for the
    receipts of the records in ``unacked/``: a second after each send, and whenever a record's
    next send is due. A record the queue holds moves to ``sent/`` (the newest ``keep``
    kept); one it refused for good (a branch not on the allow-list, say) to ``refused/``,
    logged; any other is sent again 2, 4, 8, 16, then every 30 s after the send before. The
    queue keeps one push per ``delivery``: a record sent twice runs once.

    spool
        The spool directory (default ``<cachedir>/saltext-chain/<chain:source:name>-spool``).
    timeout
        Seconds to wait for the master's answer per request.
    keep
        How many acknowledged records ``sent/`` (and refused ones ``refused/``) keep.

    Returns ``{"sent": [delivery, ...], "resent": [...], "acked": [...], "refused": [...],
    "left": <new records still in the spool>, "unacked": <records waiting for a receipt>,
    "error": ...}``.

    CLI Example:

    .. code-block:: bash

        salt build1 chain_push.forward
    """
    directory = _spool(spool)
    ret = {"sent": [], "resent": [], "acked": [], "refused": [], "left": 0, "unacked": 0}
    if not os.path.isdir(directory):
        return dict(ret, error=None)
    with _one_pass(directory) as mine:
        if not mine:
            return dict(ret, error="another pass is running")
        _hook_errors(directory)
        waiting = os.path.join(directory, UNACKED)
        os.makedirs(waiting, mode=0o750, exist_ok=True)
        sends = _load_sends(waiting, _pending_names(os.listdir(waiting)))
        error = _send_new(directory, waiting, sends, timeout, ret)
        if error is None:
            error = _settle(waiting, sends, timeout, keep, ret)
        _save_sends(waiting, sends)
    if error:
        log.warning("chain_push: %s (kept for the next pass)", error)
    ret["left"] = len(_pending_names(os.listdir(directory)))
    ret["unacked"] = len(sends)
    return dict(ret, error=error)


# ---------------------------------------------------------------------------------------------
# Branch heads on the source server (the master's poll check)
# ---------------------------------------------------------------------------------------------


def _parse_git_refs(body):
    """``{branch: sha}`` of a smart HTTP ref advertisement (``info/refs?service=
    git-upload-pack``, pkt-lines): ``refs/heads/*`` only."""
    heads, pos = {}, 0
    while pos + 4 <= len(body):
        size = int(body[pos : pos + 4], 16)
        if size == 0:
            pos += 4
            continue
        line = body[pos + 4 : pos + size].split(b"\0")[0].decode("utf-8", "replace").strip()
        pos += size
        sha, _, ref = line.partition(" ")
        if ref.startswith("refs/heads/") and re.fullmatch(r"[0-9a-f]{40}", sha):
            heads[ref[len("refs/heads/") :]] = sha
    return heads


def _parse_hg_branchmap(body):
    """``{branch: node}`` of hgweb's ``cmd=branchmap`` answer: per branch its newest head."""
    heads = {}
    for line in body.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            heads[urllib.parse.unquote(parts[0])] = parts[-1]
    return heads


def _base_url():
    bind = __salt__["config.get"]("chain:source:bind", "") or "127.0.0.1"
    port = __salt__["config.get"]("chain:source:http_port", "") or 9420
    return f"http://{bind}:{port}"


_DEFAULT = {"repos": ["app"], "hg_repos": ["app-hg"]}  # formulas/chain/defaults.yaml


def heads(repo=None, vcs="git", url=None, timeout=10):
    """The branch heads of a repository on the chain's source server, read through its HTTP
    port (anonymously, as a clone would): ``{branch: commit}`` (git: ``refs/heads/*``; hg: the
    newest head of each named branch). Without ``repo``, every repository the server serves
    (``chain:source:repos`` with git, ``chain:source:hg_repos`` with hg):
    ``{repo: {branch: commit}}``: what the master's ``chain_push.check`` asks for.

    repo
        The repository's name on the server (``app``, ``app-hg``).
    vcs
        ``git`` or ``hg``.
    url
        The server's base URL (default ``http://<chain:source:bind>:<chain:source:http_port>``).

    CLI Example:

    .. code-block:: bash

        salt build1 chain_push.heads
        salt build1 chain_push.heads app
        salt build1 chain_push.heads app-hg vcs=hg
    """
    if repo is None:
        served = {}
        for key, kind in (("repos", "git"), ("hg_repos", "hg")):
            for name in __salt__["config.get"](f"chain:source:{key}", None) or _DEFAULT[key]:
                served[name] = heads(name, kind, url, timeout)
        return served
    if not REPO.fullmatch(str(repo or "")):
        raise SaltInvocationError(f"repo must be letters, digits, '.', '_' or '-', not {repo!r}")
    base = (url or _base_url()).rstrip("/")
    if vcs == "git":
        target = f"{base}/git/{repo}.git/info/refs?service=git-upload-pack"
    elif vcs == "hg":
        target = f"{base}/hg/{repo}?cmd=branchmap"
    else:
        raise SaltInvocationError(f"vcs must be git or hg, not {vcs!r}")
    try:
        with urllib.request.urlopen(target, timeout=timeout) as resp:  # nosec: loopback
            body = resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise CommandExecutionError(f"{target}: {exc}") from exc
    return _parse_git_refs(body) if vcs == "git" else _parse_hg_branchmap(body)


# ---------------------------------------------------------------------------------------------
# The push users (pillar chain:source:users) as a bcrypt htpasswd file
# ---------------------------------------------------------------------------------------------


def _users():
    """Pillar ``chain:source:users`` checked: ``{name: password}`` (no value is ever shown)."""
    # __pillar__ itself: pillar.get answers a module with masked values ("**********", Salt
    # 3008's salt.utils.secret) outside a template
    users = salt.utils.data.traverse_dict_and_list(__pillar__, "chain:source:users", {}) or {}
    if not isinstance(users, dict):
        raise SaltInvocationError("pillar chain:source:users must be a map of name: password")
    for name, password in users.items():
        if not USER.fullmatch(str(name)):
            raise SaltInvocationError(
                f"chain:source:users: user names are letters, digits, '.', '_' or '-', not {name!r}"
            )
        if not isinstance(password, str) or not password or "\n" in password:
            raise SaltInvocationError(
                f"chain:source:users: the password of {name} must be a non-empty one-line string"
            )
    return {str(k): v for k, v in sorted(users.items())}


def users_current(path, gid=33):
    """True when ``path`` holds exactly the pillar's push users (``chain:source:users``), each
    entry verifying with its password, the file mode 0640 and its directory 0750, both group
    ``gid`` (the web server's group in the source server's image: www-data, 33).

    CLI Example:

    .. code-block:: bash

        salt build1 chain_push.users_current /srv/auth/htpasswd
    """
    return chain_htpasswd.current(path, _users(), 0o640, 0o750, int(gid))


def write_users(path, gid=33):
    """Write the push users of pillar ``chain:source:users`` (``{name: password}``) into the
    htpasswd file ``path`` as bcrypt entries: mode 0640, its directory 0750, both group ``gid``,
    replaced atomically (a read-only bind mount of the directory sees the new file). Entries that
    still verify are kept. The passwords are read from pillar here, never passed as arguments:
    no password (nor hash) is in an sls, a state return or a log.

    CLI Example:

    .. code-block:: bash

        salt build1 chain_push.write_users /srv/auth/htpasswd
    """
    users = _users()
    before = chain_htpasswd.write(path, users, 0o640, 0o750, int(gid))
    removed = sorted(set(before) - set(users))
    return {
        "result": True,
        "comment": f"{path}: {len(users)} push user(s)"
        + (f", removed {', '.join(removed)}" if removed else ""),
        "users": sorted(users),
    }
