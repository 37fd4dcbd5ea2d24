"""Mercurial txnclose hook of the chain's source server (in-process: /etc/mercurial/hgrc.d).

For a transaction that added changesets from a push (source "serve" through hgweb, or "push"),
one spool record per branch head among the new changesets HG_NODE..HG_NODE_LAST: ``after`` is
that head, ``before`` the first parent of the branch's first new changeset (or zeros). The
pusher is REMOTE_USER (Apache's basic auth; "local" for a push made inside the container).
Never fails the transaction (it is closed already): its own errors are reported
(chain_spool.report) and caught by the master's poll check.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import chain_spool  # noqa: E402

PUSH_SOURCES = (b"serve", b"push")


def _s(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def records(repo, node, node_last, pusher, via):
    """The records of the changesets ``node``..``node_last`` (hex, bytes) of ``repo``."""
    first, last = repo[node].rev(), repo[node_last].rev()
    by_branch = {}
    for rev in range(first, last + 1):
        by_branch.setdefault(repo[rev].branch(), []).append(rev)
    out = []
    name = os.path.basename(repo.root.rstrip(b"/"))
    for branch, revs in sorted(by_branch.items()):
        added = set(revs)
        parent = repo[revs[0]].p1()
        before = chain_spool.ZERO if parent.rev() < 0 else _s(parent.hex())
        heads = [r for r in revs if not any(c.rev() in added for c in repo[r].children())]
        for head in heads:
            ctx = repo[head]
            out.append(
                chain_spool.record(
                    "hg",
                    _s(name),
                    _s(branch),
                    before,
                    _s(ctx.hex()),
                    pusher,
                    via,
                    _s(ctx.description()),
                    _s(ctx.user()).split("<")[0].strip(),
                )
            )
    return out


def txnclose(ui, repo, hooktype=None, **kwargs):  # pylint: disable=unused-argument
    """The hook: returns False (success) whatever happens."""
    try:
        source = kwargs.get("source", b"")
        source = source if isinstance(source, bytes) else source.encode()
        node, node_last = kwargs.get("node"), kwargs.get("node_last") or kwargs.get("node")
        if source not in PUSH_SOURCES or not node:
            return False
        via = "http" if os.environ.get("GATEWAY_INTERFACE") else "local"
        pusher = os.environ.get("REMOTE_USER") or "local"
        unfiltered = repo.unfiltered()
        for rec in records(unfiltered, node, node_last, pusher, via):
            chain_spool.write(rec)
    except Exception:  # pylint: disable=broad-except
        chain_spool.report("hg txnclose")
    return False
