"""
Steps the ``container_image``, ``container_network`` and ``container_volume`` states share:
create what is missing, leave what is as declared, remove what is present, each honouring test
mode, with the state's ``ret`` (made by ``chain_states.new_ret``) filled in the same words. The
engine calls are passed in (``__salt__`` functions), so nothing here touches Salt's dunders.
"""

try:
    from saltext.chain.utils import chain_states
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_states

_act = chain_states.act


def settled(ret, kind, name, test, compared, create):
    """Handle the two easy outcomes of a declared-only comparison (``container.*_compare``):
    missing (``create()`` it, or say it would be) and as declared. ``True`` when ``ret`` is
    final; ``False`` when ``compared["changes"]`` still needs the caller."""
    if compared is None:
        ret["changes"] = {kind.lower(): {"old": None, "new": name}}
        _act(ret, test, f"{kind} {name}", "created", create)
        return True
    if not compared["changes"]:
        ret["comment"] = f"{kind} {name} is as declared"
        return True
    return False


def remove_present(ret, kind, name, test, current, remove, change):
    """Remove ``kind`` ``name`` when ``current`` (its inspect data) says it exists; ``change``
    is the ``changes`` entry for the removal (e.g. ``{"volume": {"old": name, "new": None}}``)."""
    if current is None:
        ret["comment"] = f"{kind} {name} is absent"
        return ret
    ret["changes"] = change
    return _act(ret, test, f"{kind} {name}", "removed", remove)


def removed_earlier(running, names):
    """The containers among ``names`` that a ``container.absent`` state that ran earlier in
    this test run would remove (``running``: Salt's ``__running__``, ``{tag: result}``).

    Under ``test=True`` nothing is removed, so a network (or volume) that ``require``s the
    ``container.absent`` states of its containers still sees them attached; the real run removes
    them first. This says which ones the real run will have removed."""
    gone = set()
    for tag, result in (running or {}).items():
        parts = tag.split("_|-")
        if len(parts) == 4 and parts[0] == "container" and parts[3] == "absent":
            if result.get("result") is None and result.get("changes"):
                gone.add(parts[2])
    return sorted(gone & set(names))
