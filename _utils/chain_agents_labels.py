"""
Jenkins label expressions and the queue's ``why`` texts, for matching queue demand to pools.

The grammar is Jenkins' own (2.568.2, ``core/src/main/antlr4/hudson/model/labels/
LabelExpressionLexer.g4`` and ``LabelExpressionParser.g4``), precedence from loosest to
tightest: ``<->`` (left-associative, repeatable), ``->`` (at most one per level: ``a->b->c`` is a
syntax error), ``||``, ``&&``, ``!`` (applies to one parenthesised expression or atom: ``!!a``
is a syntax error), then ``( ... )``, atoms and double-quoted strings. An atom is a run of any
characters but ``& | ! < > ( ) " '``, ``' '``, ``'\\t'`` and a ``-`` directly followed by ``>``
(other whitespace, such as a newline, belongs to the atom); a string literal takes the escapes
``\\b \\t \\n \\f \\r \\" \\' \\\\`` and nothing else. A blank text (``None``, ``""``,
whitespace) means "any node".

The ``why`` texts are those of ``core/src/main/resources/hudson/model/Messages.properties``
(``Queue.WaitingForNextAvailableExecutorOn``, ``Queue.LabelHasNoNodes``,
``Queue.AllNodesOffline``, ``Queue.NodeOffline``). Pure code; no Salt dunders.
"""

import re

try:
    from saltext.chain.utils import chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors

_OPS = ("<->", "->", "&&", "||", "!", "(", ")")
# LabelExpressionLexer.g4 IDENTIFIER_PART / ATOM: only ' ' and '\t' are blanks (WS); a newline or
# a no-break space is part of an atom.
_ATOM = re.compile(r"(?:[^&|!<>() \t\"'-]|-(?!>))+")
_STRING = re.compile(r'"((?:\\[btnfr"\'\\]|[^\\"\r\n])*)"')
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}

#: ``why`` texts naming a label (or, when exactly one node matches, that node).
WHY_LABEL = (
    re.compile(r"^Waiting for next available executor on ‘(?P<label>.*)’$"),
    re.compile(r"^There are no nodes with the label ‘(?P<label>.*)’$"),
    re.compile(r"^All nodes of label ‘(?P<label>.*)’ are offline$"),
    re.compile(r"^‘(?P<label>.*)’ is offline$"),
)


class LabelSyntaxError(chain_errors.BadInput):
    """A label expression Jenkins would refuse (``Invalid boolean expression``)."""


def _tokens(text):
    out, pos = [], 0
    while pos < len(text):
        if text[pos] in " \t":
            pos += 1
            continue
        for op in _OPS:
            if text.startswith(op, pos):
                out.append(("op", op))
                pos += len(op)
                break
        else:
            match = _STRING.match(text, pos)
            if match:
                value = re.sub(
                    r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), match.group(1)
                )
                out.append(("atom", value))
            else:
                match = _ATOM.match(text, pos)
                if not match:
                    raise LabelSyntaxError(f"Invalid boolean expression: {text!r}")
                out.append(("atom", match.group(0)))
            pos = match.end()
    return out


class _Parser:
    def __init__(self, text):
        self.text, self.tokens, self.pos = text, _tokens(text), 0

    def fail(self):
        raise LabelSyntaxError(f"Invalid boolean expression: {self.text!r}")

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.pos += 1
        return token

    def expr(self):
        node = self.term1()
        if self.pos != len(self.tokens):
            self.fail()
        return node

    def term1(self):  # IFF, repeatable
        node = self.term2()
        while self.peek() == ("op", "<->"):
            self.take()
            node = ("<->", node, self.term2())
        return node

    def term2(self):  # IMPLIES, at most once
        node = self.term3()
        if self.peek() == ("op", "->"):
            self.take()
            node = ("->", node, self.term3())
        return node

    def term3(self):
        node = self.term4()
        while self.peek() == ("op", "||"):
            self.take()
            node = ("||", node, self.term4())
        return node

    def term4(self):
        node = self.term5()
        while self.peek() == ("op", "&&"):
            self.take()
            node = ("&&", node, self.term5())
        return node

    def term5(self):
        if self.peek() == ("op", "!"):
            self.take()
            return ("!", self.term6())
        return self.term6()

    def term6(self):
        kind, value = self.take()
        if kind == "atom":
            return ("atom", value)
        if (kind, value) == ("op", "("):
            node = self.term1()
            if self.take() != ("op", ")"):
                self.fail()
            return node
        return self.fail()


def parse(text):
    """The parsed expression (nested tuples), ``None`` for blank (any node)."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise LabelSyntaxError(f"a label expression must be a string, got {text!r}")
    if not text.strip():
        return None
    return _Parser(text).expr()


def matches(expr, labels):
    """Whether a node carrying ``labels`` (a set of atoms) satisfies ``expr``."""
    if expr is None:
        return True
    op = expr[0]
    if op == "atom":
        return expr[1] in labels
    if op == "!":
        return not matches(expr[1], labels)
    left, right = matches(expr[1], labels), matches(expr[2], labels)
    return {
        "&&": left and right,
        "||": left or right,
        "->": (not left) or right,
        "<->": left == right,
    }[op]


def atoms(label_string):
    """A node's ``labelString`` (or a list of labels) as a set of atoms."""
    if label_string is None:
        return set()
    if isinstance(label_string, str):
        return set(label_string.split())
    return {str(x) for x in label_string}


def label_from_why(why):
    """The label expression (or single node name) a queue ``why`` names, else None."""
    for pattern in WHY_LABEL:
        match = pattern.match(why or "")
        if match:
            return match.group("label")
    return None
