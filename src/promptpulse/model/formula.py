"""Custom metrics' formulas: the tree, its terms and the evaluator (the parser, never `eval`, is
`formula_parse`).

A formula is arithmetic (numbers, + - * /, parentheses, unary minus) over catalog metric names and
*terms*. A term is a per-call number whose sum over the calls of a group is the aggregate:

    count(error_type = "timeout")   calls whose column compares true (a bound value, never SQL)
    count(score.thumbs)             scores of that name on the calls
    count(score.thumbs = 1)         ... whose value compares true
    sum(score.thumbs)               the sum of their values
    sum(cost_usd)                   a numeric column summed (empty counts as 0)
    avg(score.thumbs)               sum(score.thumbs) / count(score.thumbs)

Because terms are sums over calls, a formula of terms alone has per-call values, which is what
the statistics of compare and experiments need (the delta method). Every error names the part
of the formula that is wrong and its position (line:column).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from promptpulse.model.catalog import CATALOG, Agg, Kind, Metric, Op
from promptpulse.model.records import CALL_SCHEMA

MAX_LENGTH = 1000
MAX_DEPTH = 40
NAME_RULE = re.compile(r"[a-z][a-z0-9_]{0,62}")
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
Value = str | float | bool

# Columns a count(...) condition may read, by the kind of value compared.
_NOT_CONDITIONS = {"project", "id", "tags", "metadata", "error_message", "timestamp", "received_at"}
TEXT_COLUMNS = tuple(
    f.name for f in CALL_SCHEMA if pa.types.is_string(f.type) and f.name not in _NOT_CONDITIONS
)
NUMBER_COLUMNS = tuple(
    f.name for f in CALL_SCHEMA if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
)
BOOL_COLUMNS = tuple(f.name for f in CALL_SCHEMA if pa.types.is_boolean(f.type))
# Catalog metrics a formula may name: those computed per group (not per minute of the window).
FORMULA_METRICS = tuple(
    m.name for m in CATALOG.values() if m.kind in (Kind.AGGREGATE, Kind.QUANTILE)
)


class FormulaError(ValueError):
    def __init__(self, message: str, text: str = "", at: int | None = None) -> None:
        where = f" at {position(text, at)}" if at is not None else ""
        super().__init__(message.replace("{at}", where))


def position(text: str, at: int) -> str:
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return f"{line}:{column}"


@dataclass(frozen=True)
class Term:
    """A per-call number summed over calls. kind: calls (1 a call), where (1 when `column op
    value`), sum (a numeric column, empty as 0), score_count (scores named `name`, those whose
    value compares true when `op` is set), score_sum (the sum of their values)."""

    kind: str
    column: str = ""  # a call column, or the score's name
    op: str = ""
    value: Value | None = None

    @property
    def key(self) -> str:
        cond = f" {self.op} {self.value!r}" if self.op else ""
        if self.kind == "calls":
            return "count()"
        if self.kind == "where":
            return f"count({self.column}{cond})"
        if self.kind == "sum":
            return f"sum({self.column})"
        if self.kind == "score_count":
            return f"count(score.{self.column}{cond})"
        return f"sum(score.{self.column})"

    @property
    def score(self) -> str | None:
        return self.column if self.kind.startswith("score") else None


# --- the tree
@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Ref:  # a catalog metric
    name: str


@dataclass(frozen=True)
class TermRef:
    term: Term


@dataclass(frozen=True)
class Bin:
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg:
    arg: Node


Node = Num | Ref | TermRef | Bin | Neg


def walk(node: Node) -> list[Node]:
    if isinstance(node, Bin):
        return [node, *walk(node.left), *walk(node.right)]
    if isinstance(node, Neg):
        return [node, *walk(node.arg)]
    return [node]


def metric_names(node: Node) -> list[str]:
    return list(dict.fromkeys(n.name for n in walk(node) if isinstance(n, Ref)))


def terms(node: Node) -> list[Term]:
    return list(dict.fromkeys(n.term for n in walk(node) if isinstance(n, TermRef)))


def evaluate(node: Node, values: Mapping[str, Any]) -> float | None:
    """The formula over leaf values (catalog names and term keys); None propagates, and so does
    a division by zero or an overflow (a figure is a finite number or null)."""
    v = _evaluate(node, values)
    return v if v is None or math.isfinite(v) else None


def _evaluate(node: Node, values: Mapping[str, Any]) -> float | None:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Ref):
        v = values.get(node.name)
        return None if v is None else float(v)
    if isinstance(node, TermRef):
        v = values.get(node.term.key)
        return None if v is None else float(v)
    if isinstance(node, Neg):
        a = _evaluate(node.arg, values)
        return None if a is None else -a
    a, b = _evaluate(node.left, values), _evaluate(node.right, values)
    if a is None or b is None:
        return None
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "*":
        return a * b
    return None if b == 0 else a / b


def gradient(node: Node, values: Mapping[str, float]) -> tuple[float | None, dict[str, float]]:
    """The value and its partial derivatives by each term key (forward-mode, exact): what the
    delta method needs. None when the value is undefined there."""
    if isinstance(node, Num):
        return node.value, {}
    if isinstance(node, TermRef):
        return float(values[node.term.key]), {node.term.key: 1.0}
    if isinstance(node, Ref):
        raise ValueError("expand catalog metrics into terms first (expand_terms)")
    if isinstance(node, Neg):
        a, da = gradient(node.arg, values)
        return (None if a is None else -a), {k: -v for k, v in da.items()}
    a, da = gradient(node.left, values)
    b, db = gradient(node.right, values)
    if a is None or b is None:
        return None, {}
    keys = set(da) | set(db)
    if node.op in "+-":
        sign = 1.0 if node.op == "+" else -1.0
        return a + sign * b, {k: da.get(k, 0.0) + sign * db.get(k, 0.0) for k in keys}
    if node.op == "*":
        return a * b, {k: da.get(k, 0.0) * b + a * db.get(k, 0.0) for k in keys}
    if b == 0:
        return None, {}
    return a / b, {k: (da.get(k, 0.0) * b - a * db.get(k, 0.0)) / (b * b) for k in keys}


# --- catalog metrics as terms (for per-call statistics)
_CONDITION_TERMS = {
    "success": Term("where", "status", "=", "success"),
    "error": Term("where", "status", "=", "error"),
    "cache_hit": Term("where", "cache_hit", "=", True),
}


def _agg_term(agg: Agg) -> Term | None:
    if agg.op is Op.COUNT:
        return Term("calls")
    if agg.op is Op.COUNT_IF:
        return _CONDITION_TERMS.get(agg.arg)
    if agg.op is Op.SUM:
        return Term("sum", agg.arg)
    return None


def metric_as_terms(metric: Metric) -> Node | None:
    """A catalog metric as a formula of terms, when it is a sum (or a ratio of sums) over
    calls; None for percentiles, maxima, distinct counts."""
    if metric.kind is not Kind.AGGREGATE or not metric.parts:
        return None
    parts = [_agg_term(a) for a in metric.parts]
    per = _agg_term(metric.per) if metric.per is not None else None
    if any(p is None for p in parts) or (metric.per is not None and per is None):
        return None
    node: Node = TermRef(parts[0])  # type: ignore[arg-type]
    for p in parts[1:]:
        node = Bin("+", node, TermRef(p))  # type: ignore[arg-type]
    return node if per is None else Bin("/", node, TermRef(per))


def expand_terms(node: Node) -> Node | None:
    """The formula with every catalog metric replaced by its terms; None when one has none."""
    if isinstance(node, Ref):
        return metric_as_terms(CATALOG[node.name])
    if isinstance(node, Neg):
        arg = expand_terms(node.arg)
        return None if arg is None else Neg(arg)
    if isinstance(node, Bin):
        left, right = expand_terms(node.left), expand_terms(node.right)
        return None if left is None or right is None else Bin(node.op, left, right)
    return node


def check_term(term: Term) -> None:
    """ValueError unless the term reads a whitelisted column with a whitelisted operator: every
    backend checks before it writes a column name into SQL (values are always bound)."""
    ok = {
        "calls": not term.column,
        "where": term.column in (*TEXT_COLUMNS, *NUMBER_COLUMNS, *BOOL_COLUMNS)
        and term.op in COMPARISONS,
        "sum": term.column in NUMBER_COLUMNS,
        "score_count": term.op in ("", *COMPARISONS),
        "score_sum": not term.op,
    }.get(term.kind, False)
    if not ok:
        raise ValueError(f"not a valid term: {term}")
