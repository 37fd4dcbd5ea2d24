"""Find known secret values wherever a user or another local account could read them.

The scanner (:class:`Scanner`) is given the run's secrets by name (``{"registry password":
value}``) and searches bytes for every form a leak takes (:func:`forms`): the value itself, JSON
string escapes, URL encodings, and base64 at each of the three byte alignments (so a secret is
found inside a longer base64 blob too, such as a Basic auth header of ``user:secret``). A hit
names where, which secret and which form, never the value: a report must not leak either.

The collectors read the places: files and trees (logs, the master's job cache), Docker objects
(``docker inspect``, ``docker logs``, image history and labels), the command lines of every
process (``ps``), the events of the master's bus. :class:`Recorder` sees what a test run
creates and removes again before a scan could look: from the start of the integration session
it keeps each container's inspect output from its start and its whole log (a follower per
container), each image's inspect and history when it is tagged, pulled or committed, and every
event of the salt-factories event listener (which receives the master's and the minions' buses).
``tests/integration/test_secrets.py`` scans it all; ``tests/unit/test_secret_scan.py`` and the
integration test's planted canaries show that each kind of place is seen."""

import base64
import bisect
import collections
import contextlib
import json
import os
import stat
import subprocess
import tempfile
import threading
import urllib.parse

import docker

MIN_LENGTH = 12  # shorter values match by chance (and a base64 fragment of them is shorter)
LOG_KEEP = 1 << 20  # bytes of a container's log kept: its first half and its last half
GREP_ENV = {**os.environ, "LC_ALL": "C"}  # bytes, not UTF-8 characters: many times faster


def _b64_fragments(raw):
    """The base64 text that ``raw`` produces wherever it sits in a longer byte string: for each
    of the 3 alignments, the characters that depend on ``raw``'s bytes only."""
    out = {}
    for pad in range(3):
        data = b"\0" * pad + raw
        whole = len(data) // 3 * 3  # the full groups only: later bytes change the last chars
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            text = encode(data[:whole])
            fragment = text[(8 * pad + 5) // 6 :]
            if len(fragment) >= 8:
                out[f"{name}@{pad}"] = fragment
    return out


def forms(secret):
    """``{form name: bytes}``: every encoding of ``secret`` the scan looks for."""
    raw = secret.encode("utf-8")
    found = {
        "raw": raw,
        "json": json.dumps(secret)[1:-1].encode(),
        "json-utf8": json.dumps(secret, ensure_ascii=False)[1:-1].encode("utf-8"),
        "json-json": json.dumps(json.dumps(secret)[1:-1])[1:-1].encode(),
        "url": urllib.parse.quote(secret, safe="").encode(),
        "url-path": urllib.parse.quote(secret).encode(),
        "url-plus": urllib.parse.quote_plus(secret).encode(),
        **_b64_fragments(raw),
    }
    if urllib.parse.quote(secret, safe="") != secret:  # %2f as well as %2F
        found["url-lower"] = urllib.parse.quote(secret, safe="").lower().encode()
    unique = {}
    for name, value in found.items():
        if value not in unique.values():
            unique[name] = value
    return unique


Hit = collections.namedtuple("Hit", "where secret form kind")


class Scanner:
    """Search bytes for the forms of named secrets; ``hits`` accumulates what was found.

    The search is GNU ``grep -F`` (Aho-Corasick: every pattern in one pass, GB/s; a session's
    debug logs are hundreds of MB), fed the places as one stream with a line break between them;
    the patterns go to it in a 0600 file, never on its command line."""

    BATCH = 64 << 20  # bytes handed to one grep

    def __init__(self, secrets):
        self.patterns = []
        for label, value in secrets.items():
            if not isinstance(value, str) or len(value) < MIN_LENGTH:
                raise ValueError(f"secret {label!r}: a string of at least {MIN_LENGTH} characters")
            self.patterns += [(label, name, data) for name, data in forms(value).items()]
        tables = {False: {}, True: {}}  # url-lower is searched without case
        for label, name, data in self.patterns:
            tables[name == "url-lower"][data] = (label, name)
        self.exact, self.folded = tables[False], tables[True]
        self.hits = []
        self.scanned = collections.Counter()  # kind of place -> bytes scanned

    def scan(self, where, data, kind=None):
        """Hits of every secret in ``data`` (bytes or str); recorded in ``hits``, returned."""
        return self.scan_all([(where, data)], kind or where.split(":", 1)[0])

    def scan_all(self, items, kind):
        """Scan ``(where, data)`` pairs."""
        found, batch, size = [], [], 0
        for where, data in items:
            if isinstance(data, str):
                data = data.encode("utf-8", "surrogateescape")
            batch.append((where, data))
            size += len(data)
            if size >= self.BATCH:
                found += self._grep(batch, kind)
                batch, size = [], 0
        if batch:
            found += self._grep(batch, kind)
        self.hits += found
        return found

    def _grep(self, batch, kind):
        starts, offset = [], 0
        for _, data in batch:
            starts.append(offset)
            offset += len(data) + 1
            self.scanned[kind] += len(data)
        stream = b"\n".join(data for _, data in batch)
        found = []
        for table, fold in ((self.exact, False), (self.folded, True)):
            for offset, text in _grep_matches(stream, list(table), fold):
                where = batch[bisect.bisect_right(starts, offset) - 1][0]
                label, name = table[text.lower() if fold else text]
                found.append(Hit(where, label, name, kind))
        return sorted(set(found), key=found.index)

    def report(self):
        """One line per hit: where, which secret, which form (never the value)."""
        return "\n".join(f"{h.where}: {h.secret} ({h.form})" for h in self.hits)


def _grep_matches(stream, patterns, fold):
    """``(offset, matched bytes)`` of ``patterns`` in ``stream`` (``grep -F -o -b``)."""
    if not patterns or not stream:
        return []
    with tempfile.TemporaryDirectory(prefix="secret-scan-") as tmp:  # 0700
        path = os.path.join(tmp, "patterns")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"\n".join(patterns) + b"\n")
        cmd = ["grep", "-F", "-a", "-o", "-b", *(["-i"] if fold else []), "-f", path]
        res = subprocess.run(
            cmd, input=stream, capture_output=True, timeout=600, check=False, env=GREP_ENV
        )
    if res.returncode not in (0, 1):
        raise RuntimeError(f"grep failed ({res.returncode}): {res.stderr.decode()[:200]}")
    out = []
    for line in res.stdout.splitlines():
        offset, _, text = line.partition(b":")
        out.append((int(offset), text))
    return out


# ---------------------------------------------------------------------------------------------
# Collectors: (where, bytes) pairs
# ---------------------------------------------------------------------------------------------


def files(*roots, skip=()):
    """Every regular file under ``roots`` (a file or a tree); names in ``skip`` are left out."""
    for root in roots:
        root = os.fspath(root)
        paths = [root] if os.path.isfile(root) else []
        for top, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d not in skip]
            paths += [os.path.join(top, n) for n in names if n not in skip]
        for path in paths:
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(path).st_mode):
                    with open(path, "rb") as fh:
                        yield f"file:{path}", fh.read()


def process_cmdlines():
    """The command line of every process: what ``ps`` shows every local account."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    yield f"ps:{pid}", fh.read().replace(b"\0", b" ")


def _json(data):
    return json.dumps(data, default=str, ensure_ascii=False, sort_keys=True)


def container_texts(api, ident):
    """``docker inspect`` and ``docker logs`` of one container (``api``: docker.APIClient)."""
    with contextlib.suppress(docker.errors.NotFound):
        attrs = api.inspect_container(ident)
        yield f"inspect:{attrs['Name'].lstrip('/')}", _json(attrs)
        yield f"logs:{attrs['Name'].lstrip('/')}", api.logs(ident, stdout=True, stderr=True)


def image_texts(api, ident):
    """An image's inspect output (labels, config, env) and ``docker history``."""
    with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
        attrs = api.inspect_image(ident)
        name = (attrs.get("RepoTags") or [attrs["Id"]])[0]
        yield f"image:{name}", _json(attrs)
        yield f"history:{name}", _json(api.history(ident))


def event_texts(listener):
    """The events that the salt-factories event listener holds (every daemon's bus)."""
    for event in list(listener.store):
        yield f"event:{event.tag}", _json({"tag": event.tag, "data": event.full_data})


def loose_modes(paths, owners=(0,), modes=(0o600, 0o400)):
    """``path: why`` for each secret file that is not one of ``modes`` or not owned by one of
    ``owners`` (uids)."""
    problems = []
    for path in paths:
        st = os.stat(path)
        mode = stat.S_IMODE(st.st_mode)
        if mode not in modes or st.st_uid not in owners:
            problems.append(f"{path}: mode {mode:04o} uid {st.st_uid}")
    return problems


# ---------------------------------------------------------------------------------------------
# The session's recorder
# ---------------------------------------------------------------------------------------------


class _Log:
    """A container's log: its first and its last ``LOG_KEEP / 2`` bytes."""

    def __init__(self):
        self.head, self.tail = bytearray(), collections.deque()
        self.tail_size = 0

    def add(self, chunk):
        room = LOG_KEEP // 2 - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail.append(bytes(chunk))
            self.tail_size += len(chunk)
            while self.tail_size - len(self.tail[0]) >= LOG_KEEP // 2:
                self.tail_size -= len(self.tail.popleft())

    def data(self):
        return bytes(self.head) + b"".join(self.tail)


class Recorder:
    """Keeps, for a later scan, what the engines and the event bus showed during a session."""

    IMAGE_ACTIONS = {"tag", "pull", "push", "import", "load"}

    def __init__(self):
        self.lock = threading.Lock()
        self.inspects = {}  # where -> json text
        self.logs = {}  # container name -> _Log
        self.listener = None
        self.started, self.mark = False, ""

    def start(self, listener=None, engines=None, mark=""):
        """Keep the event listener's events for the session and watch ``engines`` ({name: url})
        for containers and images whose inspect output holds ``mark`` (the run's id: its names
        and labels); a second call does nothing."""
        if self.started:
            return self
        self.started, self.mark = True, mark
        if listener is not None:
            self.listener = listener
            listener.timeout = 24 * 3600  # an event stays for the session (default: 120 s)
            listener.store = collections.deque(listener.store, maxlen=500000)
        for name, url in (engines or {}).items():
            threading.Thread(
                target=self._watch, args=(name, url), name=f"secret-scan-{name}", daemon=True
            ).start()
        return self

    def _watch(self, engine, url):
        api = docker.APIClient(base_url=url, version="auto", timeout=None)
        for event in api.events(decode=True):
            kind, action = event.get("Type"), str(event.get("Action") or "")
            actor = event.get("Actor") or {}
            ident = event.get("id") or actor.get("ID")
            try:
                if kind == "container" and action == "start":
                    self._keep(engine, container_texts(api, ident), follow=(url, api, ident))
                elif kind == "container" and action == "commit":
                    image = (actor.get("Attributes") or {}).get("imageID")
                    self._keep(engine, image_texts(api, image or ident))
                elif kind == "image" and action in self.IMAGE_ACTIONS:
                    self._keep(engine, image_texts(api, ident))
            except docker.errors.DockerException:
                continue  # gone already: nothing to keep

    def _keep(self, engine, texts, follow=None):
        texts = [(where, data) for where, data in texts if not where.startswith("logs:")]
        if not texts or self.mark not in texts[0][1]:
            return  # gone already, or not this run's (a follower keeps the whole log)
        for where, data in texts:
            with self.lock:
                self.inspects[f"{engine}:{where}"] = data
            if follow and where.startswith("inspect:"):
                url, api, ident = follow
                log = _Log()
                with self.lock:
                    self.logs[f"{engine}:logs:{where.split(':', 1)[1]}:{ident[:12]}"] = log
                args = (url, api.api_version, ident, log)
                threading.Thread(target=self._follow, args=args, daemon=True).start()

    @staticmethod
    def _follow(url, version, ident, log):
        api = docker.APIClient(base_url=url, version=version, timeout=None)
        with contextlib.closing(api), contextlib.suppress(docker.errors.DockerException, OSError):
            for chunk in api.logs(ident, stdout=True, stderr=True, stream=True, follow=True):
                log.add(chunk)

    def texts(self):
        """``(where, data)`` of everything recorded so far."""
        with self.lock:
            items = list(self.inspects.items())
            items += [(where, log.data()) for where, log in self.logs.items()]
        if self.listener is not None:
            items += list(event_texts(self.listener))
        return items


#: The integration session's recorder (started by tests/integration/conftest.py's master).
RECORDER = Recorder()
