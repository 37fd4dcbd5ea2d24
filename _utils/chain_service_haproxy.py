"""HAProxy runtime API (admin socket) for a service's frontend: the commands and the parsing of
their answers. Pure: the caller sends the command line (``container.exec`` into the frontend
container runs :data:`CLIENT`, so it works with a remote engine too) and passes the text back.

The frontend image (``images/haproxy``) declares one backend of ``CHAIN_SLOTS`` server slots
``s1..sN``, all in maintenance at start. A replica takes a free slot: its address is set, then
the slot is made ``ready`` once the replica is healthy; before it stops it is set to ``drain``
(no new requests), its open sessions are waited out, then it goes to ``maint``.
"""

import csv
import io
import re

try:
    from saltext.chain.utils import chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors

SOCKET = "/run/haproxy/admin.sock"
#: The command run inside the frontend container: sends argv[1] to the admin socket, prints
#: the answer. python3 is in the base image; a shell has no unix-socket client.
CLIENT = (
    "import socket,sys\n"
    "s=socket.socket(socket.AF_UNIX)\n"
    "s.settimeout(10)\n"
    f"s.connect({SOCKET!r})\n"
    "s.sendall(sys.argv[1].encode()+b'\\n')\n"
    "out=b''\n"
    "while True:\n"
    "    chunk=s.recv(65536)\n"
    "    if not chunk: break\n"
    "    out+=chunk\n"
    "sys.stdout.write(out.decode())\n"
)
NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")
STATES = ("ready", "drain", "maint")
# srv_op_state values of `show servers state`
OP_STATES = {0: "down", 1: "starting", 2: "up", 3: "stopping"}
# Forced, inherited and resolution maintenance. 0x04 (CMAINT, "disabled" in the configuration)
# stays set after "set server ... state ready" although the server serves: not maintenance.
ADMIN_MAINT = 0x01 | 0x02 | 0x20
ADMIN_DRAIN = 0x08 | 0x10


def argv(command):
    return ["python3", "-c", CLIENT, command]


def _check(value, field):
    if not isinstance(value, str) or not NAME.match(value):
        raise chain_errors.BadInput(
            f"{field}: expected a HAProxy name ([a-zA-Z0-9_.-]), got {value!r}"
        )
    return value


def server(backend, slot):
    return f"{_check(backend, 'backend')}/s{int(slot)}"


def set_addr(backend, slot, addr, port):
    if not re.match(r"^[0-9a-fA-F:.]+$", str(addr)):
        raise chain_errors.BadInput(f"addr: expected an IP address, got {addr!r}")
    return f"set server {server(backend, slot)} addr {addr} port {int(port)}"


def set_state(backend, slot, state):
    if state not in STATES:
        raise chain_errors.BadInput(f"state: expected one of {', '.join(STATES)}")
    return f"set server {server(backend, slot)} state {state}"


def show_state(backend):
    return f"show servers state {_check(backend, 'backend')}"


def show_stat():
    return "show stat"


def check_answer(text, command):
    """The runtime API answers errors in plain text; raise them as a BackendError."""
    lowered = (text or "").strip().lower()
    if lowered.startswith(("unknown command", "no such", "require", "permission denied")) or (
        "not found" in lowered and "\n" not in lowered
    ):
        raise chain_errors.BackendError(f"haproxy refused {command!r}: {text.strip()}")
    return text


def parse_servers_state(text):
    """``show servers state`` -> ``{slot: {addr, port, op, maint, drain, name}}`` of the
    ``s<N>`` slots."""
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    header = next((ln for ln in lines if ln.startswith("#")), None)
    if header is None:
        raise chain_errors.BackendError(f"haproxy: unexpected servers state answer: {text[:200]!r}")
    cols = header.lstrip("#").split()
    out = {}
    for line in lines:
        if line.startswith("#") or line.strip() == "1":
            continue
        row = dict(zip(cols, line.split(), strict=False))
        match = re.fullmatch(r"s(\d+)", row.get("srv_name", ""))
        if not match:
            continue
        admin = int(row.get("srv_admin_state", "0"))
        out[int(match.group(1))] = {
            "name": row["srv_name"],
            "addr": row.get("srv_addr"),
            "port": int(row["srv_port"]) if row.get("srv_port", "").isdigit() else None,
            "op": OP_STATES.get(int(row.get("srv_op_state", "0")), "down"),
            "maint": bool(admin & ADMIN_MAINT),
            "drain": bool(admin & ADMIN_DRAIN),
        }
    return out


def parse_sessions(text, backend):
    """``show stat`` CSV -> ``{slot: current sessions}`` for the backend's ``s<N>`` servers."""
    body = (text or "").lstrip("# ")
    out = {}
    for row in csv.DictReader(io.StringIO(body)):
        if row.get("pxname") != backend:
            continue
        match = re.fullmatch(r"s(\d+)", row.get("svname") or "")
        if match:
            out[int(match.group(1))] = int(row.get("scur") or 0)
    return out


def serving(servers):
    """Slots that take traffic: up and neither in maintenance nor draining."""
    return sorted(
        s for s, v in servers.items() if v["op"] == "up" and not v["maint"] and not v["drain"]
    )
