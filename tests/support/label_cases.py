"""One table of label expressions, read from Jenkins 2.568.2's grammar, for both our parsers.

Source (``git show jenkins-2.568.2:PATH`` in jenkinsci/jenkins):

- ``core/src/main/antlr4/hudson/model/labels/LabelExpressionLexer.g4``: the tokens ``&&``,
  ``||``, ``!``, ``->``, ``<->``, ``(``, ``)``; ``WS`` is ``' '`` and ``'\\t'`` only (skipped);
  an ``ATOM`` is a run of any character but ``& | ! < > ( ) " '``, blank, tab and ``-``, plus
  ``-`` when the character after it is not ``>`` (so ``a->b`` is an implication, ``a-b`` an
  atom, a newline is an atom character); a ``STRINGLITERAL`` is ``"..."`` with the escapes
  ``\\b \\t \\n \\f \\r \\" \\' \\\\`` only and no raw CR/LF; any other character (``'``, a lone
  ``&``, ``<``, ``>``) is a token recognition error.
- ``core/src/main/antlr4/hudson/model/labels/LabelExpressionParser.g4``: ``term1`` (``<->``,
  repeated, left to right) > ``term2`` (``->``, at most once: ``(IMPLIES term3)?``) > ``term3``
  (``||``, left to right) > ``term4`` (``&&``, left to right) > ``term5`` (``NOT term6``: one
  ``!`` before a parenthesis or an atom, so ``!!a`` is refused) > ``term6`` (``( term1 )``,
  ``ATOM``, ``STRINGLITERAL``); ``expr`` is ``term1 EOF``.
- ``cli/src/main/java/hudson/util/QuotedStringTokenizer.java`` ``unquote``: what a string
  literal names (``\\n`` a newline, ``\\"`` a quote...).
- ``test/src/test/java/hudson/model/labels/LabelExpressionTest.java``: ``parser1``,
  ``parserError`` and the ``expression_atom_*`` cases (JENKINS-66613) are in the table below.

Trees are written in one neutral form: ``("atom", name)``, ``("!", x)``, ``(op, left, right)``;
parentheses leave no node (``Paren`` only keeps the user's text, it does not change the match).
"""

import itertools


def A(name):  # pylint: disable=invalid-name
    return ("atom", name)


def NOT(x):  # pylint: disable=invalid-name
    return ("!", x)


def AND(a, b):  # pylint: disable=invalid-name
    return ("&&", a, b)


def OR(a, b):  # pylint: disable=invalid-name
    return ("||", a, b)


def IMPLIES(a, b):  # pylint: disable=invalid-name
    return ("->", a, b)


def IFF(a, b):  # pylint: disable=invalid-name
    return ("<->", a, b)


a, b, c, d = A("a"), A("b"), A("c"), A("d")

#: (expression, the tree Jenkins 2.568.2 builds)
ACCEPTED = [
    # atoms (LabelExpressionTest.parser1, expression_atom_*)
    ("foo", A("foo")),
    ("32bit.dot", A("32bit.dot")),
    ("abc123def", A("abc123def")),
    ("a-b", A("a-b")),
    ("--a----b-c-", A("--a----b-c-")),  # JENKINS-66613
    ("--", A("--")),
    ("-", A("-")),
    ("-1", A("-1")),
    ("-abc-", A("-abc-")),
    ("a-", A("a-")),
    ("jdk-17", A("jdk-17")),
    # odd characters an ATOM accepts (IDENTIFIER_PART excludes only & | ! < > ( ) " ' - and blanks)
    ("a:b", A("a:b")),
    ("a/b.c@d", A("a/b.c@d")),
    ("a=b,c;d", A("a=b,c;d")),
    ("a#b$c%d*e+f?g[h]i{j}k~l^m`n", A("a#b$c%d*e+f?g[h]i{j}k~l^m`n")),
    ("a\\b", A("a\\b")),
    ("a\nb", A("a\nb")),  # only ' ' and '\t' are WS
    ("a\rb", A("a\rb")),
    ("a\u00a0b", A("a\u00a0b")),  # a no-break space is not WS either
    ("ünïcødé", A("ünïcødé")),
    # blanks
    ("  foo  ", A("foo")),
    ("\tfoo\t", A("foo")),
    ("foo ->\tbar", IMPLIES(A("foo"), A("bar"))),  # parser1
    ("   foo \t\t ->   bar \t ", IMPLIES(A("foo"), A("bar"))),
    # && and || : && binds tighter, both left to right
    ("a&&b", AND(a, b)),
    ("a && b", AND(a, b)),
    ("a||b", OR(a, b)),
    ("a&&b&&c", AND(AND(a, b), c)),  # parser2 (JENKINS-8537)
    ("a||b||c", OR(OR(a, b), c)),
    ("a||b&&c", OR(a, AND(b, c))),
    ("a&&b||c", OR(AND(a, b), c)),
    ("a&&b||c&&d", OR(AND(a, b), AND(c, d))),
    ("(a||b)&&c", AND(OR(a, b), c)),
    ("a||(b&&c)", OR(a, AND(b, c))),
    ("  ( a || b )  && c", AND(OR(a, b), c)),
    ("((a))", a),
    # -> : looser than ||, at most once per level
    ("a->b", IMPLIES(a, b)),  # expression_implies_withoutSpaces
    ("a -> b", IMPLIES(a, b)),
    ("a-->b", IMPLIES(A("a-"), b)),  # expression_atom_dashBeforeImplies
    ("a->-b", IMPLIES(a, A("-b"))),  # expression_atom_dashAfterImplies
    ("a||b->c&&d", IMPLIES(OR(a, b), AND(c, d))),
    ("(a->b)->c", IMPLIES(IMPLIES(a, b), c)),
    ("a->(b->c)", IMPLIES(a, IMPLIES(b, c))),
    # <-> : loosest, repeated left to right
    ("a<->b", IFF(a, b)),
    ("a<->b<->c", IFF(IFF(a, b), c)),
    ("a->b<->c->d", IFF(IMPLIES(a, b), IMPLIES(c, d))),
    ("a<->b->c", IFF(a, IMPLIES(b, c))),
    ("a<->(b<->c)", IFF(a, IFF(b, c))),
    # ! : one, before an atom or a parenthesis
    ("!a", NOT(a)),
    ("! a", NOT(a)),
    ("!a&&b", AND(NOT(a), b)),
    ("a&&!b", AND(a, NOT(b))),
    ("!(a||b)", NOT(OR(a, b))),
    ("!(!a)", NOT(NOT(a))),
    ("!foo <-> bar", IFF(NOT(A("foo")), A("bar"))),  # parser1
    ("!a->b", IMPLIES(NOT(a), b)),
    ('!"a b"', NOT(A("a b"))),
    # string literals (STRINGLITERAL, then QuotedStringTokenizer.unquote)
    ('"a b"', A("a b")),
    ('"with space" && x', AND(A("with space"), A("x"))),
    ('"a&&b"', A("a&&b")),
    ('"(x)"', A("(x)")),
    ('"a\'b"', A("a'b")),
    ('"a\\\'b"', A("a'b")),
    ('"a\\"b"', A('a"b')),
    ('"a\\\\b"', A("a\\b")),
    ('"abc\\\\\\"def"', A('abc\\"def')),  # LabelExpressionTest.quote
    ('"a\\nb"', A("a\nb")),
    ('"a\\tb\\rc\\fd\\be"', A("a\tb\rc\fd\be")),
    ('""', A("")),
    ('"a"||"b"', OR(a, b)),
]

#: expressions Jenkins 2.568.2 refuses (Label.parseExpression throws IllegalArgumentException)
REFUSED = [
    # LabelExpressionTest.parserError
    "foo bar",
    "foo (bar)",
    "foo(bar)",
    "a <- b",
    "a -< b",
    "a - b",
    "->",
    "-<",
    "-!",
    # one -> per level (term2: (IMPLIES term3)?)
    "a->b->c",
    "a ->b -> c",
    "a||b->c->d",
    # one ! before a term6 (term5: NOT term6)
    "!!a",
    "! !a",
    "a&&!!b",
    # characters no token takes
    "a'b",
    "'a'",
    "a&b",
    "a|b",
    "a<b",
    "a>b",
    "a<-b",
    # strings: unterminated, unknown escape, raw newline, glued to an atom
    '"a',
    '"a\\"',
    '"a\\xb"',
    '"a\\u0041"',
    '"a\nb"',
    'a"b"',
    '"a"b',
    # incomplete expressions
    "a &&",
    "&& a",
    "a ||",
    "a <->",
    "!",
    "(a",
    "a)",
    "()",
    "(a))",
    "a && (b",
]


def atoms_of(tree):
    """The atom names a tree mentions."""
    if tree[0] == "atom":
        return {tree[1]}
    return set().union(*(atoms_of(sub) for sub in tree[1:]))


def evaluate(tree, labels):
    """What ``LabelExpression.*.matches`` answers for a node carrying ``labels``."""
    op = tree[0]
    if op == "atom":
        return tree[1] in labels
    if op == "!":
        return not evaluate(tree[1], labels)
    left, right = evaluate(tree[1], labels), evaluate(tree[2], labels)
    return {"&&": left and right, "||": left or right, "->": (not left) or right}.get(
        op, left == right
    )


def label_sets(tree):
    """Every node label set over the tree's atoms (plus one unrelated label)."""
    names = sorted(atoms_of(tree))
    for size in range(len(names) + 1):
        for chosen in itertools.combinations(names, size):
            yield {*chosen, "unrelated"}
