"""
bcrypt htpasswd files written by the chain's modules (the registry's user:
``chain_secrets.registry_htpasswd``; the source server's push users: ``chain_push.write_users``),
with the passwords given to ``htpasswd`` on its stdin only: never on a command line, in a
return, a comment or a log.

An entry that still verifies with its password is kept as it is (a bcrypt hash has a random
salt: rewriting it at every apply would change the file, and restart what watches it, for
nothing). A file is replaced atomically (a read-only bind mount of its directory sees the new
file whole).
"""

import os
import stat
import subprocess

from salt.exceptions import CommandExecutionError


def run(args, password):
    """``htpasswd ARGS`` with ``password`` on stdin only: ``(exit code, stdout)``."""
    try:
        res = subprocess.run(
            ["htpasswd", *args],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CommandExecutionError("htpasswd not found: install apache2-utils") from exc
    return res.returncode, res.stdout


def verifies(path, name, password):
    """Whether the entry of ``name`` in ``path`` verifies with ``password``."""
    return run(["-vi", path, name], password)[0] == 0


def entry(name, password):
    """A new bcrypt entry ``name:$2y$...`` (cost 10)."""
    code, out = run(["-niB", "-C", "10", name], password)
    line = out.strip()
    if code != 0 or not line.startswith(f"{name}:$2"):
        raise CommandExecutionError(f"htpasswd could not hash the password of {name}")
    return line


def names(path):
    """The user names of ``path`` in file order (``[]`` when there is no file)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return [line.split(":", 1)[0] for line in fh if ":" in line]


def plan(path, users):
    """The lines of the file for ``users`` (``{name: password}``, in that order): an entry of
    ``path`` that still verifies is kept, the others are made anew. ``(lines, names before)``."""
    current = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                name, sep, _ = line.strip().partition(":")
                if sep:
                    current[name] = line.strip()
    lines = [
        current[name]
        if name in current and verifies(path, name, password)
        else entry(name, password)
        for name, password in users.items()
    ]
    return lines, sorted(current)


def owned(path, mode, gid=None):
    """Whether ``path`` is owned by this process's user (and group ``gid`` when given) with
    exactly ``mode``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    return (
        st.st_uid == os.geteuid()
        and (gid is None or st.st_gid == gid)
        and stat.S_IMODE(st.st_mode) == mode
    )


def current(path, users, mode, dir_mode, gid=None):
    """Whether ``path`` holds exactly ``users`` (``{name: password}``), each verifying, with
    ``mode`` in a directory of ``dir_mode`` (both of group ``gid`` when given)."""
    if not (owned(path, mode, gid) and owned(os.path.dirname(path), dir_mode, gid)):
        return False
    if sorted(names(path)) != sorted(users):
        return False
    return all(verifies(path, n, p) for n, p in users.items())


def write(path, users, mode, dir_mode, gid=None):
    """Write ``users`` (``{name: password}``) into ``path`` (:func:`plan`), ``mode`` in a
    directory of ``dir_mode`` (both of group ``gid`` when given), replaced atomically. The names
    that were in the file before."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    if gid is not None:
        os.chown(directory, -1, gid)
    os.chmod(directory, dir_mode)
    lines, before = plan(path, users)
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("".join(f"{line}\n" for line in lines))
    if gid is not None:
        os.chown(tmp, -1, gid)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return before
