"""Jenkins label expressions (``hudson/model/labels/LabelExpression.java``).

Supports atoms (plain or double-quoted), ``!``, ``&&``, ``||``, ``->``, ``<->`` and parentheses,
with Jenkins' precedence (``!`` > ``&&`` > ``||`` > ``->`` > ``<->``).  ``str(expr)`` renders the
expression the way ``Label.getName()`` does (``a&&b``, no spaces), which is what Jenkins puts in
queue messages such as "There are no nodes with the label ‘a&&b’".
"""

import re

_UNSAFE = set('!&|()<> \t"')


class LabelSyntaxError(ValueError):
    pass


def escape_atom(name):
    if name and not any(c in _UNSAFE or c.isspace() for c in name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Atom:
    def __init__(self, name):
        self.name = name

    def matches(self, labels):
        return self.name in labels

    def __str__(self):
        return escape_atom(self.name)


class Not:
    def __init__(self, inner):
        self.inner = inner

    def matches(self, labels):
        return not self.inner.matches(labels)

    def __str__(self):
        return "!" + str(self.inner)


class Paren:
    def __init__(self, inner):
        self.inner = inner

    def matches(self, labels):
        return self.inner.matches(labels)

    def __str__(self):
        return "(" + str(self.inner) + ")"


class Binary:
    OPS = {
        "&&": lambda a, b: a and b,
        "||": lambda a, b: a or b,
        "->": lambda a, b: (not a) or b,
        "<->": lambda a, b: a == b,
    }

    def __init__(self, op, left, right):
        self.op, self.left, self.right = op, left, right

    def matches(self, labels):
        return self.OPS[self.op](self.left.matches(labels), self.right.matches(labels))

    def __str__(self):
        return f"{self.left}{self.op}{self.right}"


_TOKEN = re.compile(
    r'\s*(?:(<->|->|&&|\|\||!|\(|\))|"((?:[^"\\]|\\.)*)"|((?:[^\s!&|()<>"-]|-(?!>))+))'
)


def _tokenize(text):
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise LabelSyntaxError(f"Invalid boolean expression: {text}")
        op, quoted, atom = match.groups()
        if op:
            tokens.append(("op", op))
        elif quoted is not None:
            tokens.append(("atom", re.sub(r"\\(.)", r"\1", quoted)))
        else:
            tokens.append(("atom", atom))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def fail(self):
        raise LabelSyntaxError(f"Invalid boolean expression: {self.text}")

    def parse(self):
        expr = self.iff()
        if self.pos != len(self.tokens):
            self.fail()
        return expr

    def _binary(self, op, sub):
        left = sub()
        while self.peek() == ("op", op):
            self.take()
            left = Binary(op, left, sub())
        return left

    def iff(self):
        return self._binary("<->", self.implies)

    def implies(self):
        return self._binary("->", self.disj)

    def disj(self):
        return self._binary("||", self.conj)

    def conj(self):
        return self._binary("&&", self.unary)

    def unary(self):
        kind, value = self.take()
        if kind == "op" and value == "!":
            return Not(self.unary())
        if kind == "op" and value == "(":
            inner = self.iff()
            if self.take() != ("op", ")"):
                self.fail()
            return Paren(inner)
        if kind == "atom":
            return Atom(value)
        self.fail()


def parse(text):
    """Parse a label expression; ``None``/blank -> ``None`` (any node)."""
    if text is None or not text.strip():
        return None
    return _Parser(text.strip()).parse()


def atoms(label_string):
    """Split a node's ``labelString`` into label atoms (whitespace separated)."""
    return [a for a in (label_string or "").split() if a]
