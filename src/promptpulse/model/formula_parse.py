"""The parser of custom metrics' formulas (grammar in `model.formula` and docs/metrics.md): a tiny
recursive-descent parser over a tokenizer, never `eval`. Each error names the offending part of
the formula and its line:column."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection
from dataclasses import dataclass

from promptpulse.model.catalog import CATALOG, Kind, Metric
from promptpulse.model.formula import (
    BOOL_COLUMNS,
    COMPARISONS,
    FORMULA_METRICS,
    MAX_DEPTH,
    MAX_LENGTH,
    NAME_RULE,
    NUMBER_COLUMNS,
    TEXT_COLUMNS,
    Bin,
    FormulaError,
    Neg,
    Node,
    Num,
    Ref,
    Term,
    TermRef,
    Value,
)

# --- the parser
_TOKEN = re.compile(
    r"""\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)
    |(?P<string>"[^"\\\n]*"|'[^'\\\n]*')
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>==|!=|<=|>=|[-+*/()<>=.×÷−]))""",
    re.VERBOSE,
)
_UNICODE_OPS = {"×": "*", "÷": "/", "−": "-"}


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, op, end
    text: str
    at: int


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if m is None or m.lastgroup is None:
            bad = text[i:].lstrip()
            at = len(text) - len(bad)
            raise FormulaError(f'unexpected "{bad[0]}"{{at}}', text, at)
        kind = m.lastgroup
        value = m.group(kind)
        out.append(Token(kind, _UNICODE_OPS.get(value, value), m.start(kind)))
        i = m.end()
    out.append(Token("end", "", len(text)))
    return out


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]}?" if close else ""


class Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ;
    unary := '-' unary | atom ; atom := number | '(' expr ')' | name | func '(' arg ')'."""

    def __init__(self, text: str, scores: Collection[str] | None = None) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.known_score = scores  # the project's score names; None: any name is accepted

    def error(self, message: str, token: Token) -> FormulaError:
        return FormulaError(message, self.text, token.at)

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def expect(self, text: str, what: str) -> Token:
        t = self.take()
        if t.text != text or t.kind not in ("op",):
            shown = f'"{t.text}"' if t.kind != "end" else "the end"
            raise self.error(f"expected {what}, found {shown}{{at}}", t)
        return t

    def parse(self) -> Node:
        if not self.text.strip():
            raise FormulaError("is empty")
        node = self.expr()
        if self.peek.kind != "end":
            raise self.error(f'unexpected "{self.peek.text}"{{at}}', self.peek)
        return node

    def expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH}{{at}}", self.peek)
        node = self.product()
        while self.peek.kind == "op" and self.peek.text in "+-":
            op = self.take().text
            node = Bin(op, node, self.product())
        self.depth -= 1
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek.kind == "op" and self.peek.text in ("*", "/"):
            op = self.take().text
            node = Bin(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek.kind == "op" and self.peek.text == "-":
            self.take()
            return Neg(self.unary())
        if self.peek.kind == "op" and self.peek.text == "+":
            self.take()
            return self.unary()
        return self.atom()

    def atom(self) -> Node:
        t = self.take()
        if t.kind == "number":
            if not math.isfinite(float(t.text)):
                raise self.error(f"number {t.text} is too large{{at}}", t)
            return Num(float(t.text))
        if t.kind == "op" and t.text == "(":
            node = self.expr()
            self.expect(")", 'a closing ")"')
            return node
        if t.kind == "name":
            if self.peek.kind == "op" and self.peek.text == "(":
                return self.call(t)
            if t.text in FORMULA_METRICS:
                return Ref(t.text)
            if t.text in CATALOG:
                raise self.error(f'metric "{t.text}" cannot be used in a formula{{at}}', t)
            raise self.error(
                f'unknown metric "{t.text}"{{at}}' + _suggest(t.text, FORMULA_METRICS), t
            )
        shown = "the end of the formula" if t.kind == "end" else f'"{t.text}"'
        raise self.error(f"expected a number, a metric or a function, found {shown}{{at}}", t)

    # --- functions: count(...), sum(...), avg(score.<name>)
    def call(self, fn: Token) -> Node:
        if fn.text not in ("count", "sum", "avg"):
            raise self.error(
                f'unknown function "{fn.text}"{{at}}'
                + _suggest(fn.text, ["count", "sum", "avg"])
                + " (functions: count, sum, avg)",
                fn,
            )
        self.expect("(", '"("')
        subject = self.take()
        if subject.kind != "name":
            raise self.error(
                f'{fn.text}(...) needs a column or score.<name>, found "{subject.text}"{{at}}',
                subject,
            )
        node = self.score_call(fn) if subject.text == "score" else self.column_call(fn, subject)
        self.expect(")", f'a closing ")" of {fn.text}(')
        return node

    def score_call(self, fn: Token) -> Node:
        self.expect(".", '"." after score (score.<name>)')
        name = self.take()
        if name.kind != "name":
            raise self.error('expected a score name after "score."{at}', name)
        if self.known_score is not None and name.text not in self.known_score:
            hint = _suggest(name.text, sorted(self.known_score)) or (
                " (the project has received no scores of that name)"
            )
            raise self.error(f'unknown score "{name.text}"{{at}}' + hint, name)
        op, value = self.condition(name, numbers_only=True)
        if op and fn.text != "count":
            raise self.error(f"only count(...) takes a condition, not {fn.text}(...){{at}}", fn)
        count = TermRef(Term("score_count", name.text, op, value))
        if fn.text == "count":
            return count
        total = TermRef(Term("score_sum", name.text))
        return (
            total if fn.text == "sum" else Bin("/", total, TermRef(Term("score_count", name.text)))
        )

    def column_call(self, fn: Token, column: Token) -> Node:
        if fn.text == "avg":
            raise self.error(
                "avg(...) takes score.<name>; for a column use a catalog mean{at}", column
            )
        if fn.text == "sum":
            if column.text not in NUMBER_COLUMNS:
                raise self.error(
                    f'sum(...) needs a numeric column, not "{column.text}"{{at}}'
                    + _suggest(column.text, NUMBER_COLUMNS),
                    column,
                )
            return TermRef(Term("sum", column.text))
        known = (*TEXT_COLUMNS, *NUMBER_COLUMNS, *BOOL_COLUMNS)
        if column.text not in known:
            raise self.error(
                f'unknown column "{column.text}"{{at}}' + _suggest(column.text, known), column
            )
        op, value = self.condition(column, numbers_only=False)
        if not op:
            raise self.error(
                f"count({column.text}) needs a condition, e.g. count({column.text} = ...){{at}}",
                column,
            )
        return TermRef(Term("where", column.text, op, value))

    def condition(self, subject: Token, numbers_only: bool) -> tuple[str, Value | None]:
        """An optional `op value` after a column or score; the value's type must fit."""
        if not (self.peek.kind == "op" and self.peek.text in (*COMPARISONS, "==")):
            return "", None
        op = self.take().text
        op = "=" if op == "==" else op
        negative = self.peek.kind == "op" and self.peek.text == "-"
        if negative:
            self.take()
        v = self.take()
        name = subject.text
        if v.kind == "number":
            value: Value = -float(v.text) if negative else float(v.text)
            if not numbers_only and name not in NUMBER_COLUMNS:
                raise self.error(f'{name} is not numeric; compare it with a "text"{{at}}', v)
            return op, value
        if numbers_only:
            raise self.error(
                f"a score compares with a number, found {v.text or 'nothing'}{{at}}", v
            )
        if v.kind == "string" and not negative:
            if name not in TEXT_COLUMNS:
                raise self.error(f"{name} is not text; compare it with a number{{at}}", v)
            if op not in ("=", "!="):
                raise self.error(f"text compares with = or != only, not {op}{{at}}", v)
            return op, v.text[1:-1]
        if v.kind == "name" and v.text in ("true", "false") and not negative:
            if name not in BOOL_COLUMNS or op not in ("=", "!="):
                raise self.error(f"{name} {op} {v.text} is not a valid condition{{at}}", v)
            return op, v.text == "true"
        raise self.error(f'expected a value after {op}, found "{v.text}"{{at}}', v)


def parse(text: str, scores: Collection[str] | None = None) -> Node:
    """The formula's tree; FormulaError names what is wrong and where. `scores`: the score
    names known (None: any name)."""
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"is longer than {MAX_LENGTH} characters")
    return Parser(text, scores).parse()


def check_name(name: str) -> str | None:
    """Why a custom metric may not have this name (None when it may)."""
    if not NAME_RULE.fullmatch(name):
        return "must match [a-z][a-z0-9_]{0,62}: a lower-case letter, then letters, digits, _"
    if name in CATALOG:
        return f'"{name}" is a catalog metric; choose another name'
    return None


def custom_metric(
    name: str,
    text: str,
    unit: str = "",
    higher_is_better: bool | None = None,
    description: str = "",
    scores: Collection[str] | None = None,
) -> Metric:
    """A project's custom metric as a catalog `Metric` of kind CUSTOM, so it goes wherever a
    metric goes; FormulaError when the name or the formula is wrong."""
    why = check_name(name)
    if why:
        raise FormulaError(why)
    return Metric(
        name,
        unit,
        description or text,
        Kind.CUSTOM,
        higher_is_better=higher_is_better,
        formula=parse(text, scores),
        source=text,
    )
