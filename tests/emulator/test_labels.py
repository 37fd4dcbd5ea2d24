"""The emulator's label expressions: Jenkins 2.568.2's grammar, names and lax parsing.

The grammar cases are the table shared with ``_utils/chain_agents_labels.py``
(``tests/support/label_cases.py``, read from ``LabelExpressionLexer.g4`` /
``LabelExpressionParser.g4``); the names are ``LabelExpressionTest.parser1`` / ``quote`` /
``laxParsing``; the queue test checks ``Jenkins.getLabel`` through HTTP.
"""

import pytest

from saltext.chain.emulator import labels
from tests.support import label_cases

from .helpers import create_inbound_node, freestyle, wait_for

GRAMMAR = (
    "core/src/main/antlr4/hudson/model/labels/LabelExpressionLexer.g4, "
    "core/src/main/antlr4/hudson/model/labels/LabelExpressionParser.g4"
)


def _tree(expr):
    """The emulator's parse in the table's neutral form (a ``Paren`` leaves no node)."""
    if isinstance(expr, labels.Atom):
        return ("atom", expr.name)
    if isinstance(expr, labels.Paren):
        return _tree(expr.inner)
    if isinstance(expr, labels.Not):
        return ("!", _tree(expr.inner))
    return (expr.op, _tree(expr.left), _tree(expr.right))


@pytest.mark.jenkins("2.568.2", GRAMMAR)
@pytest.mark.parametrize("text, tree", label_cases.ACCEPTED, ids=repr)
def test_grammar_table_accepted(text, tree):
    parsed = labels.parse(text)
    assert _tree(parsed) == tree
    for node in label_cases.label_sets(tree):
        assert parsed.matches(node) is label_cases.evaluate(tree, node), node


@pytest.mark.jenkins("2.568.2", GRAMMAR)
@pytest.mark.parametrize("text", label_cases.REFUSED, ids=repr)
def test_grammar_table_refused(text):
    with pytest.raises(labels.LabelSyntaxError, match="Invalid boolean expression"):
        labels.parse(text)


@pytest.mark.jenkins(
    "2.568.2",
    "test/src/test/java/hudson/model/labels/LabelExpressionTest.java parser1, parser2, quote; "
    "core/src/main/java/hudson/model/labels/LabelExpression.java (names), "
    "core/src/main/java/hudson/model/labels/LabelAtom.java escape/needsEscape",
)
@pytest.mark.parametrize(
    "text, name",
    [
        ("foo", "foo"),
        ("32bit.dot", "32bit.dot"),
        ("foo || bar", "foo||bar"),
        ("foo||bar&&zot", "foo||bar&&zot"),
        ("foo||(bar&&zot)", "foo||(bar&&zot)"),
        ("  ( foo || bar )  && zot", "(foo||bar)&&zot"),
        ("foo ->\tbar", "foo->bar"),
        ("   foo \t\t ->   bar \t ", "foo->bar"),
        ("!foo <-> bar", "!foo<->bar"),
        ("aaa&&bbb&&ccc", "aaa&&bbb&&ccc"),
        ('"abc\\\\\\"def"', 'abc\\"def'),  # a lone atom's name is bare
        ('"a b" && c', '"a b"&&c'),  # inside an expression the atom is escaped
        ('"a:b"||c', '"a:b"||c'),  # ':' is not a good name (Jenkins.checkGoodName)
        ('"a\\nb"&&c', '"a\\nb"&&c'),
        ("a-b&&!c", "a-b&&!c"),
    ],
)
def test_label_names(text, name):
    assert str(labels.parse(text)) == name


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/jenkins/model/Jenkins.java getLabel; "
    "test/src/test/java/hudson/model/labels/LabelExpressionTest.java laxParsing",
)
@pytest.mark.parametrize(
    "text, tree",
    [
        ("lucene.zones.apache.org (Solaris 10)", ("atom", "lucene.zones.apache.org (Solaris 10)")),
        ("!!a", ("atom", "!!a")),
        ("a->b->c", ("atom", "a->b->c")),
        ("a'b", ("atom", "a'b")),
        ('"a&&b"', ("&&", ("atom", "a"), ("atom", "b"))),  # unquoted before it is parsed
        ("'a||b'", ("||", ("atom", "a"), ("atom", "b"))),
        ('"a" && "b"', ("atom", 'a" && "b')),  # unquote takes the outer quotes first
        ("a && b", ("&&", ("atom", "a"), ("atom", "b"))),
    ],
)
def test_get_label_is_lax(text, tree):
    assert _tree(labels.get_label(text)) == tree


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/model/AbstractProject.java getAssignedLabel"
)
def test_get_label_of_a_job_that_may_roam_is_none():
    assert labels.get_label(None) is None


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/hudson/model/AbstractProject.java getAssignedLabel; "
    "core/src/main/java/jenkins/model/Jenkins.java getLabel; "
    "core/src/main/java/hudson/model/queue/CauseOfBlockage.java",
)
@pytest.mark.parametrize("shape", ["!!{x}", "{x}->{x}->{x}"])
def test_a_job_label_the_grammar_refuses_is_one_atom(server, name, cleanup, shape):
    """Jenkins laxly takes a label it cannot parse as one atom: no node carries it."""
    atom = f"lx-{name}"
    node = name + "-agent"
    cleanup[1].append(node)
    create_inbound_node(server, node, labels=atom)  # never connected: offline
    label = shape.format(x=atom)
    cleanup[0].append(name)
    server.create_job(name, freestyle("true", label=label))
    qid = server.build_job(name)
    item = wait_for(
        lambda: (lambda i: i if i["_class"].endswith("BuildableItem") else None)(
            server.get_queue_item(qid)
        ),
        what="buildable",
    )
    # parsed as an expression, it would match the node: "‘<node>’ is offline"
    assert item["why"] == f"There are no nodes with the label ‘{label}’"
    server.cancel_queue(qid)
