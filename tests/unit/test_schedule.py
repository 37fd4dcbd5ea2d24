"""tests/support/schedule.py: the integration+fault process's work units and their order."""

import types

from tests.support import schedule

IDS = [
    "tests/unit/test_a.py::test_x",
    "tests/integration/test_secrets.py::test_one",
    "tests/integration/test_chain_rollout.py::test_first",
    "tests/integration/test_chain_rollout.py::test_second",
    "tests/integration/multihost/test_hosts.py::test_h",
    "tests/integration/multihost/test_hosts_tls_registry.py::test_t",
    "tests/integration/test_new_thing.py::test_n",
    "tests/fault/docker_side/test_engine_frozen.py::test_f[ping]",
    "tests/fault/docker_side/test_registry_faults.py::test_r",
    "tests/fault/test_fault_agents.py::test_a",
    "tests/fault/test_fault_salt.py::test_s",
]


def test_a_unit_is_a_file_or_a_whole_directory_of_session_fixtures():
    assert schedule.unit(IDS[2]) == "tests/integration/test_chain_rollout.py"
    assert schedule.unit(IDS[4]) == schedule.unit(IDS[5]) == "tests/integration/multihost"
    assert schedule.unit(IDS[7]) == schedule.unit(IDS[8]) == "tests/fault/docker_side"
    assert schedule.unit("tests/integration/test_x.py") == "tests/integration/test_x.py"


def test_the_fault_tier_first_then_the_longest_units_first():
    got = [IDS[i] for i in schedule.order(IDS)]
    assert got == [
        "tests/unit/test_a.py::test_x",  # outside both tiers: keeps its place
        "tests/fault/test_fault_salt.py::test_s",
        "tests/fault/docker_side/test_engine_frozen.py::test_f[ping]",
        "tests/fault/docker_side/test_registry_faults.py::test_r",
        "tests/fault/test_fault_agents.py::test_a",
        "tests/integration/test_chain_rollout.py::test_first",  # its tests in their order
        "tests/integration/test_chain_rollout.py::test_second",
        "tests/integration/multihost/test_hosts.py::test_h",
        "tests/integration/multihost/test_hosts_tls_registry.py::test_t",
        "tests/integration/test_new_thing.py::test_n",  # unknown: DEFAULT seconds
        "tests/integration/test_secrets.py::test_one",
    ]
    assert sorted(schedule.order(IDS)) == list(range(len(IDS)))  # a permutation: none lost


def test_the_weights_name_units_that_exist(repo_root):
    """A renamed or removed file must not leave a stale weight behind (its unit would fall back
    to DEFAULT without a word)."""
    for name in schedule.SECONDS:
        assert (repo_root / name).exists(), name
    for directory in schedule.DIRECTORIES:
        assert (repo_root / directory).is_dir(), directory


class _Item:
    def __init__(self, nodeid):
        self.nodeid = nodeid


def test_arrange_reorders_the_items_in_place():
    items = [_Item(nodeid) for nodeid in IDS]
    same = items
    schedule.arrange(items)
    assert items is same and [i.nodeid for i in items] == [IDS[i] for i in schedule.order(IDS)]


class _Config:
    def __init__(self, workers):
        self.option = types.SimpleNamespace(tx=[f"{workers}*popen"], loadscopereorder=True)

    def getvalue(self, name):
        return getattr(self.option, name)


class _Node:
    """A worker as the scheduler sees it: the tests it was sent, in order, and those done."""

    shutting_down = False

    def __init__(self, name, collection, handed):
        self.gateway = types.SimpleNamespace(id=name)
        self.collection, self.sent, self.done, self.handed = collection, [], 0, handed

    def send_runtest_some(self, indices):
        self.sent += [self.collection[i] for i in indices]
        self.handed.append(schedule.unit(self.collection[indices[0]]))

    def shutdown(self):
        self.shutting_down = True


def test_the_scheduler_hands_out_whole_units_in_the_arranged_order():
    """Driven as pytest-xdist's controller drives it, two workers finishing a test in turn:
    each unit goes whole to one worker, and the units go out in the collection's order (not
    re-sorted by their number of tests, xdist's own order)."""
    collection = [IDS[i] for i in schedule.order(IDS)]
    sched = schedule.Units(_Config(2))
    handed = []  # units in the order they were sent out
    nodes = [_Node("gw0", collection, handed), _Node("gw1", collection, handed)]
    for node in nodes:
        sched.add_node(node)
        sched.add_node_collection(node, collection)
    sched.schedule()
    while not sched.tests_finished:
        for node in nodes:
            if node.done < len(node.sent):
                sched.mark_test_complete(node, collection.index(node.sent[node.done]))
                node.done += 1
    assert sorted(nodes[0].sent + nodes[1].sent) == sorted(IDS)  # each test once
    for unit in handed:
        on = [n.gateway.id for n in nodes if any(schedule.unit(t) == unit for t in n.sent)]
        assert len(on) == 1, (unit, on)
    assert handed == list(dict.fromkeys(schedule.unit(n) for n in collection))
