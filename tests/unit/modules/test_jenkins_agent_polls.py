"""How often jenkins_agent looks while it waits for agents: soon at first, then at most once a
second (a long wait must not flood the controller)."""

import itertools

from _modules import jenkins_agent as ja


def test_polls_start_soon_grow_and_are_capped():
    delays = list(itertools.islice(ja._polls(), 12))  # pylint: disable=protected-access
    assert delays[0] == ja.POLL_FIRST <= 0.1
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert sum(delays[:5]) < 1.0  # five looks within the first second
    assert max(delays) == ja.POLL_MAX == 1.0
    # a 120 s connect_timeout costs about 120 reads, not 240 (the old fixed 0.5 s)
    total, count = 0.0, 0
    for delay in ja._polls():  # pylint: disable=protected-access
        total += delay
        count += 1
        if total >= 120:
            break
    assert count < 130
