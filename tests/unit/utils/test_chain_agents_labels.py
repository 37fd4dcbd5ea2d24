"""Label expressions as Jenkins 2.568.2 parses them (LabelExpressionLexer/Parser.g4)."""

import pytest
from saltext.chain.utils import chain_agents_labels as labels
from saltext.chain.utils.chain_errors import BadInput

from tests.support import label_cases


@pytest.mark.parametrize(
    "expr, node, expected",
    [
        ("linux", {"linux"}, True),
        ("linux && docker", {"linux"}, False),
        ("linux&&docker", {"linux", "docker"}, True),
        ("linux && docker || !windows", {"mac"}, True),
        ("linux && docker || !windows", {"windows"}, False),
        ("!(a || b)", {"c"}, True),
        ("a || b && c", {"a"}, True),  # && binds tighter than ||
        ("(a || b) && c", {"a"}, False),
        ("a -> b", {"c"}, True),
        ("a -> b", {"a"}, False),
        ("a <-> b", {"a", "b"}, True),
        ("a <-> b <-> c", {"c"}, True),  # left-associative: (F<->F)<->T
        ('"with space" && x', {"with space", "x"}, True),
        ("jdk-17", {"jdk-17"}, True),  # a '-' not followed by '>' is part of the atom
        ("a->b", {"a", "b"}, True),
        ("", {"x"}, True),
        (None, set(), True),
    ],
)
def test_matches(expr, node, expected):
    assert labels.matches(labels.parse(expr), node) is expected


@pytest.mark.parametrize("expr", ["a ->b -> c", "!!a", "a &&", "(a", "a)", "a & b", "'a'", 5])
def test_syntax_errors_are_bad_input(expr):
    with pytest.raises(BadInput):
        labels.parse(expr)


@pytest.mark.parametrize(
    "why, label",
    [
        ("Waiting for next available executor on ‘linux&&docker’", "linux&&docker"),
        ("There are no nodes with the label ‘arm’", "arm"),
        ("All nodes of label ‘arm’ are offline", "arm"),
        ("‘pool-1a2b’ is offline", "pool-1a2b"),
        ("Waiting for next available executor", None),
        ("In the quiet period. Expires in 4.9 sec", None),
        (None, None),
    ],
)
def test_label_from_why(why, label):
    assert labels.label_from_why(why) == label


# The same table as the emulator's parser (tests/emulator/test_labels.py), read from Jenkins
# 2.568.2's LabelExpressionLexer.g4 / LabelExpressionParser.g4 (see tests/support/label_cases.py).


@pytest.mark.parametrize("expr, tree", label_cases.ACCEPTED, ids=repr)
def test_grammar_table_accepted(expr, tree):
    parsed = labels.parse(expr)
    assert parsed == tree
    for node in label_cases.label_sets(tree):
        assert labels.matches(parsed, node) is label_cases.evaluate(tree, node), node


@pytest.mark.parametrize("expr", label_cases.REFUSED, ids=repr)
def test_grammar_table_refused(expr):
    with pytest.raises(labels.LabelSyntaxError, match="Invalid boolean expression"):
        labels.parse(expr)
