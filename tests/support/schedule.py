"""The order of the integration+fault process on its pytest-xdist workers (scripts/run_tests.py:
``--dist loadfile``; tests/integration/conftest.py applies it: the collection's order and the
scheduler).

pytest-xdist hands out work units from one queue, in the collection's order, to whichever worker
runs low. By default (``--dist loadfile``) a unit is a file and the queue is sorted by the number
of tests per file. That order mixed the tiers: a worker went from tests/integration to
tests/fault and back, and each return set the integration package up again (a master, its
minions, salt-api, the Jenkins emulator, a sync) after tearing it down; a directory whose fixtures
are the session's (multihost's Docker-in-Docker hosts, docker_side's private engine) ran on both
workers, once each; and the longest file (one test) came last, so one worker ended minutes after
the other.

Here (:class:`Units`) a unit is a file, or a whole directory of :data:`DIRECTORIES`, and the
queue is the collection's order (:func:`arrange`): the fault tier comes first
(its units share nothing with the integration package), then the integration units, each tier
longest first (:data:`SECONDS`, the seconds a unit took in CI; an unknown one counts
:data:`DEFAULT`) so that the short ones fill the end and both workers finish together. Each
worker then sets the integration package up once. Within a unit the tests keep their order.
"""

from xdist.scheduler import LoadFileScheduling

#: Directories that run on one worker as one unit: their costly fixtures are session-scoped.
DIRECTORIES = ("tests/integration/multihost", "tests/fault/docker_side")
#: Tiers, in the order they run; a test outside both keeps its slot.
TIERS = ("tests/fault/", "tests/integration/")
#: Seconds each unit took in CI (junit of ci46, a fresh-clone run on 2 workers beside the other
#: process, setup included); only their order matters, roughly.
SECONDS = {
    "tests/fault/test_fault_salt.py": 246,
    "tests/fault/docker_side": 173,
    "tests/fault/test_fault_jenkins.py": 28,
    "tests/fault/test_fault_agents.py": 23,
    "tests/integration/test_chain_orchestrate.py": 498,
    "tests/integration/test_chain_rollout.py": 438,
    "tests/integration/test_push_to_production.py": 228,
    # ci55 283 s, plus the Swarm service across the hosts (measured alone: about 110 s)
    "tests/integration/multihost": 390,
    "tests/integration/test_push_queue.py": 133,
    # ci55 144 s, less the rollout under load that went to multihost (89 s)
    "tests/integration/test_swarm_service.py": 60,
    "tests/integration/test_chain_jobs.py": 122,
    "tests/integration/test_chain_push_forward.py": 105,
    "tests/integration/test_chain_registry_tls.py": 72,
    "tests/integration/test_packaging.py": 64,
    "tests/integration/test_agents.py": 56,
    "tests/integration/test_highstate.py": 46,
    "tests/integration/test_chain_source.py": 46,
    "tests/integration/test_chain_registry.py": 37,
    "tests/integration/test_chain_pin.py": 30,
    "tests/integration/test_beacon_file_roots.py": 25,
    "tests/integration/test_secrets.py": 22,
    "tests/integration/test_fuzz_push_hook.py": 20,
    "tests/integration/test_stack.py": 18,
    "tests/integration/test_chain_jenkins.py": 16,
    "tests/integration/test_docs_examples.py": 10,
    "tests/integration/test_beacon_events.py": 7,
    "tests/integration/test_jenkins.py": 5,
    "tests/integration/test_masterless.py": 5,
}
DEFAULT = 30


def unit(nodeid):
    """The work unit of a test: its file, or the directory of :data:`DIRECTORIES` it is in."""
    path = nodeid.split("::", 1)[0]
    for directory in DIRECTORIES:
        if path.startswith(directory + "/"):
            return directory
    return path


def _tier(name):
    for rank, prefix in enumerate(TIERS):
        if name.startswith(prefix):
            return rank
    return None


def order(nodeids):
    """The indices of ``nodeids`` in the order to run them: the tiers' tests in the slots they
    held, arranged by tier then longest unit first (ties: first collected first); every other
    test stays where it was. Tests of one unit stay together and in their order."""
    picked = [i for i, nodeid in enumerate(nodeids) if _tier(unit(nodeid)) is not None]
    first = {}
    for i in picked:
        first.setdefault(unit(nodeids[i]), i)

    def key(i):
        name = unit(nodeids[i])
        return (_tier(name), -SECONDS.get(name, DEFAULT), first[name], i)

    arranged = iter(sorted(picked, key=key))
    slots = set(picked)
    return [next(arranged) if i in slots else i for i in range(len(nodeids))]


def arrange(items):
    """Reorder ``items`` (pytest's, in place) by :func:`order`."""
    items[:] = [items[i] for i in order([item.nodeid for item in items])]


class Units(LoadFileScheduling):
    """``--dist loadfile`` with :func:`unit` as the unit, handed out in the collection's order
    (:func:`arrange` made it), not re-sorted by the number of tests per unit."""

    def __init__(self, config, log=None):
        super().__init__(config, log)
        config.option.loadscopereorder = False  # read by LoadScopeScheduling.schedule

    def _split_scope(self, nodeid):
        return unit(nodeid)
