"""Jenkins label expressions (``hudson/model/labels/LabelExpression.java``).

The grammar is Jenkins 2.568.2's ``core/src/main/antlr4/hudson/model/labels/
LabelExpressionLexer.g4`` and ``LabelExpressionParser.g4``: atoms (plain or double-quoted), ``!``,
``&&``, ``||``, ``->``, ``<->`` and parentheses, from tightest to loosest ``!`` (``term5``: one
``!`` before an atom or a parenthesis, so ``!!a`` is refused), ``&&``, ``||`` (left to right),
``->`` (``term2``: at most once per level, so ``a->b->c`` is refused), ``<->`` (left to right).
A plain atom is a run of any character but ``& | ! < > ( ) " '``, ``' '``, ``'\\t'`` and a ``-``
followed by ``>``; a quoted one takes the escapes ``\\b \\t \\n \\f \\r \\" \\' \\\\``
only (``QuotedStringTokenizer.unquote`` then gives the name).  ``str(expr)`` renders the
expression the way ``Label.getName()`` does (``a&&b``, no spaces), which is what Jenkins puts in
queue messages such as "There are no nodes with the label ‘a&&b’".
"""

import re

# Jenkins.checkGoodName refuses these (and control characters); LabelAtom.needsEscape adds " ()\t\n"
_BAD_NAME = set("?*/\\%!@#$^&|<>[]:;")
_NEEDS_QUOTES = set(" ()\t\n")
# QuotedStringTokenizer.quote
_QUOTE = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f", "\b": "\\b"}


class LabelSyntaxError(ValueError):
    pass


def _needs_escape(name):
    """``LabelAtom.needsEscape``: not a good name (``Jenkins.checkGoodName``) or " ()\\t\\n"."""
    trimmed = name.strip("".join(map(chr, range(33))))  # String.trim
    if not name or trimmed in (".", "..") or trimmed.endswith("."):
        return True
    return any(c in _BAD_NAME or c in _NEEDS_QUOTES or _iso_control(c) for c in name)


def _iso_control(char):  # Character.isISOControl
    return ord(char) <= 0x1F or 0x7F <= ord(char) <= 0x9F


def escape_atom(name):
    """``LabelAtom.escape``: the atom as it appears inside an expression."""
    if not _needs_escape(name):
        return name
    return '"' + "".join(_QUOTE.get(c, c) for c in name) + '"'


class Atom:
    """``LabelAtom``: ``str()`` is ``getName()`` (the bare name), ``expression()`` is quoted."""

    def __init__(self, name):
        self.name = name

    def matches(self, labels):
        return self.name in labels

    def expression(self):
        return escape_atom(self.name)

    def __str__(self):
        return self.name


class _Compound:
    """``LabelExpression``: ``getName()`` and ``getExpression()`` are the same text."""

    def expression(self):
        return str(self)


class Not(_Compound):
    def __init__(self, inner):
        self.inner = inner

    def matches(self, labels):
        return not self.inner.matches(labels)

    def __str__(self):  # LabelExpression.Not: '!' + paren(NOT, base)
        return "!" + self.inner.expression()


class Paren(_Compound):
    def __init__(self, inner):
        self.inner = inner

    def matches(self, labels):
        return self.inner.matches(labels)

    def __str__(self):  # LabelExpression.Paren: '(' + base.getExpression() + ')'
        return "(" + self.inner.expression() + ")"


class Binary(_Compound):
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

    def __str__(self):  # LabelExpression.Binary.combine (the parser never needs added parens)
        return f"{self.left.expression()}{self.op}{self.right.expression()}"


_OPS = ("<->", "->", "&&", "||", "!", "(", ")")
# LabelExpressionLexer.g4: ATOM = (IDENTIFIER_PART | '-' when the next char is not '>')+, where
# IDENTIFIER_PART is anything but & | ! < > ( ) ' ' '\t' " ' -; WS = (' ' | '\t')+ is skipped.
_ATOM = re.compile(r"(?:[^&|!<>() \t\"'-]|-(?!>))+")
# STRINGLITERAL: '"' ('\\' ('b'|'t'|'n'|'f'|'r'|'"'|'\''|'\\') | ~('\\'|'"'|'\r'|'\n'))* '"'
_STRING = re.compile(r'"((?:\\[btnfr"\'\\]|[^\\"\r\n])*)"')
# QuotedStringTokenizer.unquote: \n \r \t \f \b are control characters, \x is x otherwise
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}


def _unquote(body):
    """The unescaping loop of ``QuotedStringTokenizer.unquote`` (a trailing ``\\`` is dropped)."""
    out, escape = [], False
    for char in body:
        if escape:
            out.append(_ESCAPES.get(char, char))
            escape = False
        elif char == "\\":
            escape = True
        else:
            out.append(char)
    return "".join(out)


def _tokenize(text):
    tokens = []
    pos = 0
    while pos < len(text):
        if text[pos] in " \t":
            pos += 1
            continue
        op = next((op for op in _OPS if text.startswith(op, pos)), None)
        if op:
            tokens.append(("op", op))
            pos += len(op)
            continue
        match = _STRING.match(text, pos)
        if match:
            tokens.append(("atom", _unquote(match.group(1))))
        else:
            match = _ATOM.match(text, pos)
            if not match:  # a token recognition error
                raise LabelSyntaxError(f"Invalid boolean expression: {text}")
            tokens.append(("atom", match.group(0)))
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

    def iff(self):  # term1: term2 (IFF term2)*
        return self._binary("<->", self.implies)

    def implies(self):  # term2: term3 (IMPLIES term3)?  -- no chaining
        left = self.disj()
        if self.peek() == ("op", "->"):
            self.take()
            left = Binary("->", left, self.disj())
        return left

    def disj(self):  # term3: term4 (OR term4)*
        return self._binary("||", self.conj)

    def conj(self):  # term4: term5 (AND term5)*
        return self._binary("&&", self.unary)

    def unary(self):  # term5: term6 | NOT term6
        if self.peek() == ("op", "!"):
            self.take()
            return Not(self.primary())
        return self.primary()

    def primary(self):  # term6: LPAREN term1 RPAREN | ATOM | STRINGLITERAL
        kind, value = self.take()
        if kind == "op" and value == "(":
            inner = self.iff()
            if self.take() != ("op", ")"):
                self.fail()
            return Paren(inner)
        if kind == "atom":
            return Atom(value)
        return self.fail()


def unquote(text):
    """``QuotedStringTokenizer.unquote``: strip one pair of matching ``"``/``'`` and unescape.

    (Its ``\\u`` branch, which reads past the ``u`` with the wrong shifts, is not reproduced.)
    """
    if len(text) < 2 or text[0] != text[-1] or text[0] not in "\"'":
        return text
    return _unquote(text[1:-1])


def get_label(text):
    """``Jenkins.getLabel``: unquote, parse, and laxly take what does not parse as one atom.

    This is how a job's ``assignedNode`` becomes a label (``AbstractProject.getAssignedLabel``):
    ``!!a`` or ``a->b->c`` there name an atom no node carries, ``"a&&b"`` is ``a&&b``.
    """
    if text is None:  # the job may roam
        return None
    text = unquote(text)
    try:
        return _Parser(text).parse()
    except LabelSyntaxError:
        return Atom(text)


def parse(text):
    """Parse a label expression; ``None``/blank -> ``None`` (any node)."""
    if text is None or not text.strip():
        return None
    return _Parser(text).parse()


def atoms(label_string):
    """Split a node's ``labelString`` into label atoms (whitespace separated)."""
    return [a for a in (label_string or "").split() if a]
