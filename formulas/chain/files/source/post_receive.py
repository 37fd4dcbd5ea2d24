#!/usr/bin/python3
"""git post-receive hook of the chain's source server (core.hooksPath in /etc/gitconfig).

stdin: one ``<old> <new> <ref>`` line per updated ref. One spool record per updated branch
(``refs/heads/*``; tags and deletions are not pushes to build). The pusher is the user Apache
authenticated (REMOTE_USER, smart HTTP); through git daemon (the only pusher there is the
Docker host, i.e. the formula's seed) it is "seed". Exit status 0 always: post-receive runs
after the refs moved, so it cannot refuse the push anyway; a record it could not write is
reported (chain_spool.report) and caught by the master's poll check.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import chain_spool  # noqa: E402


def updates(lines):
    """(old, new, ref) of each branch update in post-receive's input: no tags, no deletions."""
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) != 3:
            continue
        old, new, ref = parts
        if ref.startswith("refs/heads/") and new != chain_spool.ZERO:
            out.append((old, new, ref))
    return out


def repo_name(git_dir):
    """The repository's name on the server: /srv/git/app.git -> app."""
    base = os.path.basename(os.path.abspath(git_dir))
    return base[: -len(".git")] if base.endswith(".git") else base


def main():
    via = "http" if os.environ.get("GATEWAY_INTERFACE") else "git-daemon"
    pusher = os.environ.get("REMOTE_USER") or "seed"
    repo = repo_name(os.environ.get("GIT_DIR", "."))
    for old, new, ref in updates(sys.stdin.read().splitlines()):
        try:
            author, _, message = subprocess.run(
                ["git", "log", "-1", "--format=%an%x00%B", new],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            ).stdout.partition("\0")
            chain_spool.write(
                chain_spool.record("git", repo, ref, old, new, pusher, via, message, author)
            )
        except Exception:  # pylint: disable=broad-except
            chain_spool.report(f"git {repo} {ref} {new}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # pylint: disable=broad-except
        chain_spool.report("git post-receive")
        sys.exit(0)
