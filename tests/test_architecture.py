"""Architecture rules: which package may import what, and how big a module or function may grow.

PromptPulse is built in floors, and imports only point down:

    errors, config        ground floor: errors imports nothing of promptpulse, config only errors
    model                 pure floor: record schemas, query scope, metric catalog, typed result
                          rows. Only errors; no database driver, no web, ORM or HTTP library
    store                 the door (`promptpulse.store`: protocol + `open_store`) and its backend
                          packages (`store.duck`, `store.click`). Only model, errors,
                          config. A backend never imports another backend, and a driver lives in
                          its backend alone (duckdb in store.duck; clickhouse_connect and chdb in
                          store.click; psycopg, psycopg2 and sqlite3 nowhere)
    query                 model, the store door, errors, config. No web, no feature
    features              alerts budgets slos experiments exports reports retention rollups
                          notify dashboards: never web, app, server, cli or demo. notify
                          imports no other feature; alerts never imports budgets or slos
                          (they register with it)
    web                   no backend, no driver, nothing above it
    app, server           wire it all together
    cli, demo             the top

Beside the floors: outside `promptpulse.store` code imports only its door, never
`promptpulse.store.<anything>`, so no feature ever needs a backend module; `ingest` stands on
model, the store door, meta, errors, config and observability; `meta` (SQLAlchemy, the metadata
layer) on errors, config and model; the `sdk` runs inside users' applications and imports
nothing of the server.

An import is any `import x` or `from x import y`, at module level or inside a function, relative
ones resolved, plus `importlib.import_module("x")`, `__import__("x")` and `LazyModule("x")` with
a literal name. `from x import y` counts as importing `x.y` when that is a module in the tree.
The rules are the RULES table below: to add a floor, add a line. A package named in a rule that
does not exist (yet) simply has nothing to check.

Sizes: no module over MAX_MODULE_LINES lines, no function or method over MAX_FUNCTION_LINES
lines (from its `def` to its last line; decorators do not count). A justified exception goes in
SIZE_EXCEPTIONS with its reason; an entry that no longer matches anything over the limit fails,
so that list cannot rot.

Every failure is one line per violation, `path:line: ...`, sorted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# The rules. A name covers that module or package and everything below it; "x.*" covers only
# what is below x (so "promptpulse.store.*" is every store module except the door).
# ---------------------------------------------------------------------------------------------

ERRORS = "promptpulse.errors"
CONFIG = "promptpulse.config"
MODEL = "promptpulse.model"
STORE = "promptpulse.store"
DUCK = "promptpulse.store.duck"
CLICKHOUSE = "promptpulse.store.click"
QUERY = "promptpulse.query"
META = "promptpulse.meta"
INGEST = "promptpulse.ingest"
SDK = "promptpulse.sdk"
WEB = "promptpulse.web"
NOTIFY = "promptpulse.notify"
FEATURES = tuple(
    f"promptpulse.{name}"
    for name in (
        "alerts",
        "budgets",
        "slos",
        "experiments",
        "exports",
        "reports",
        "retention",
        "rollups",
        "notify",
        "dashboards",
        "markers",
        "prices",
    )
)
TOP = ("promptpulse.app", "promptpulse.server", "promptpulse.cli", "promptpulse.demo")
WEB_LIBS = ("fastapi", "starlette")
DRIVERS = ("duckdb", "clickhouse_connect", "chdb", "psycopg", "psycopg2", "sqlite3")


@dataclass(frozen=True)
class Rule:
    """Modules inside `who` (and not inside `unless`) import only within `only` (when given) and
    never within `never`. `only` speaks of promptpulse imports alone (stdlib and third-party are
    free) and a `who` package may always import itself; `never` speaks of any module."""

    who: str | tuple[str, ...]
    why: str
    only: tuple[str, ...] | None = None
    never: tuple[str, ...] = ()
    unless: str | tuple[str, ...] = ()


RULES: tuple[Rule, ...] = (
    Rule(ERRORS, only=(), why="errors is the ground floor: it imports nothing of promptpulse"),
    Rule(CONFIG, only=(ERRORS,), why="config stands on errors alone"),
    Rule(MODEL, only=(ERRORS,), why="model is the pure floor: errors and itself only"),
    Rule(
        MODEL,
        never=(*DRIVERS, *WEB_LIBS, "sqlalchemy", "httpx"),
        why="model is pure: no driver, web, ORM or HTTP library",
    ),
    Rule(STORE, only=(MODEL, ERRORS, CONFIG), why="store stands on model, errors and config only"),
    Rule(DUCK, never=(CLICKHOUSE,), why="a backend never imports another backend"),
    Rule(CLICKHOUSE, never=(DUCK,), why="a backend never imports another backend"),
    Rule(
        "promptpulse",
        unless=STORE,
        never=(f"{STORE}.*",),
        why="outside store, import only its door promptpulse.store",
    ),
    Rule(
        "promptpulse", unless=DUCK, never=("duckdb",), why="duckdb is imported only in store.duck"
    ),
    Rule(
        "promptpulse",
        unless=CLICKHOUSE,
        never=("clickhouse_connect", "chdb"),
        why="clickhouse drivers only in store.click",
    ),
    Rule(
        "promptpulse",
        never=("psycopg", "psycopg2", "sqlite3"),
        why="no such driver in src: SQLAlchemy is the metadata layer",
    ),
    Rule(
        QUERY,
        only=(MODEL, STORE, ERRORS, CONFIG),
        why="query stands on model, store door, errors, config",
    ),
    Rule(QUERY, never=WEB_LIBS, why="query knows nothing of the web"),
    Rule(FEATURES, never=(WEB,), why="a feature sits below web"),
    Rule(
        NOTIFY,
        never=tuple(f for f in FEATURES if f != NOTIFY),
        why="notify imports no other feature",
    ),
    Rule(
        "promptpulse.alerts",
        never=("promptpulse.budgets", "promptpulse.slos"),
        why="budgets and slos register with alerts; alerts never imports them",
    ),
    Rule(
        INGEST,
        only=(MODEL, STORE, META, ERRORS, CONFIG, "promptpulse.observability"),
        why="ingest stands on model, store door, meta, errors, config, observability",
    ),
    Rule(META, only=(ERRORS, CONFIG, MODEL), why="meta stands on errors, config and model only"),
    Rule(SDK, only=(), why="the sdk runs in users' apps: nothing of the server"),
    Rule(
        (MODEL, STORE, QUERY, *FEATURES, WEB),
        never=TOP,
        why="floors point down: model < store < query < features < web < app < cli/demo",
    ),
)

# Calls that import the module named by their first (literal) argument.
DYNAMIC_IMPORTERS = frozenset({"import_module", "__import__", "LazyModule"})

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

# Justified exceptions to the size limits: {"src/promptpulse/x.py::Class.method": "why"} for a
# function (nested ones as "outer.inner"), {"src/promptpulse/x.py": "why"} for a whole module.
SIZE_EXCEPTIONS: dict[str, str] = {}


# ---------------------------------------------------------------------------------------------
# The checker.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    path: str  # relative to the repository root, e.g. src/promptpulse/store/__init__.py
    module: str  # e.g. promptpulse.store
    is_package: bool
    lines: int
    tree: ast.Module
    functions: tuple[Function, ...]


@dataclass(frozen=True)
class Function:
    name: str  # qualified: "Class.method", "outer.inner"
    line: int  # of the `def`: decorators do not count
    length: int  # from the `def` line to the last line


@dataclass(frozen=True)
class Import:
    path: str
    line: int
    importer: str
    module: str


def parse_tree(root: Path) -> list[Source]:
    """Every module under root/src/promptpulse, parsed; an absent tree is an empty list."""
    src = root / "src"
    out = []
    for file in sorted((src / "promptpulse").rglob("*.py")):
        parts = file.relative_to(src).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        text = file.read_text(encoding="utf-8")
        out.append(
            Source(
                path=file.relative_to(root).as_posix(),
                module=".".join(parts[:-1] if is_package else parts),
                is_package=is_package,
                lines=len(text.splitlines()),
                tree=(tree := ast.parse(text, filename=str(file))),
                functions=tuple(_functions(tree)),
            )
        )
    return out


def _functions(node: ast.AST, prefix: str = "") -> Iterator[Function]:
    """Every function and method below node, nested ones included."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            end = child.end_lineno or child.lineno
            yield Function(prefix + child.name, child.lineno, end - child.lineno + 1)
            yield from _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.stmt | ast.excepthandler | ast.match_case):
            yield from _functions(child, prefix)  # a def can only sit in a statement


def _within(module: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        return module.startswith(pattern[:-1])
    return module == pattern or module.startswith(pattern + ".")


def _first_within(module: str, patterns: str | tuple[str, ...]) -> str | None:
    for pattern in (patterns,) if isinstance(patterns, str) else patterns:
        if _within(module, pattern):
            return pattern
    return None


def _absolute(source: Source, level: int, name: str | None) -> str:
    """The absolute module of `from <level dots><name> import ...` written in `source`."""
    if level == 0:
        return name or ""
    package = source.module.split(".")
    if not source.is_package:
        package = package[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _dynamic_target(call: ast.Call) -> str | None:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name not in DYNAMIC_IMPORTERS or not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value[:1] != ".":
        return arg.value
    return None


def collect_imports(sources: list[Source]) -> list[Import]:
    """Every import in every source, wherever it sits, as absolute module names."""
    known = {s.module for s in sources}
    known |= {m.rsplit(".", i)[0] for m in list(known) for i in range(m.count(".") + 1)}
    out: list[Import] = []
    for source in sources:
        for node in ast.walk(source.tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(source, node.level, node.module)
                for alias in node.names:
                    sub = f"{base}.{alias.name}" if base else alias.name
                    modules.append(sub if sub in known else base)
            elif isinstance(node, ast.Call) and (target := _dynamic_target(node)):
                modules = [target]
            line = getattr(node, "lineno", 0)
            out += (Import(source.path, line, source.module, m) for m in dict.fromkeys(modules))
    return out


def _broken(imp: Import, rule: Rule) -> bool:
    who = _first_within(imp.importer, rule.who)
    if who is None or _first_within(imp.importer, rule.unless):
        return False
    if _first_within(imp.module, rule.never):
        return True
    if rule.only is None or not _within(imp.module, "promptpulse"):
        return False
    return not _within(imp.module, who) and _first_within(imp.module, rule.only) is None


def import_violations(sources: list[Source], rules: tuple[Rule, ...] = RULES) -> list[str]:
    """`path:line: importer imports module: why`, one per offending import (first rule wins)."""
    found: dict[tuple[str, int, str], str] = {}
    for imp in collect_imports(sources):
        for rule in rules:
            if _broken(imp, rule):
                found.setdefault(
                    (imp.path, imp.line, imp.module),
                    f"{imp.path}:{imp.line}: {imp.importer} imports {imp.module}: {rule.why}",
                )
    return [found[key] for key in sorted(found)]


def module_size_violations(sources: list[Source], allowed: Mapping[str, str]) -> list[str]:
    return [
        f"{s.path}:1: module is {s.lines} lines (max {MAX_MODULE_LINES})"
        for s in sources
        if s.lines > MAX_MODULE_LINES and s.path not in allowed
    ]


def function_size_violations(sources: list[Source], allowed: Mapping[str, str]) -> list[str]:
    found = [
        (s.path, f.line, f"{f.name} is {f.length} lines (max {MAX_FUNCTION_LINES})")
        for s in sources
        for f in s.functions
        if f.length > MAX_FUNCTION_LINES and f"{s.path}::{f.name}" not in allowed
    ]
    return [f"{path}:{line}: {text}" for path, line, text in sorted(found)]


def stale_exceptions(sources: list[Source], allowed: Mapping[str, str]) -> list[str]:
    """Allow-list entries that no longer name anything over its limit."""
    sizes: dict[str, tuple[int, int, int]] = {}  # key -> (line, length, limit); longest wins
    for s in sources:
        sizes[s.path] = (1, s.lines, MAX_MODULE_LINES)
        for f in s.functions:
            key = f"{s.path}::{f.name}"
            if key not in sizes or f.length > sizes[key][1]:
                sizes[key] = (f.line, f.length, MAX_FUNCTION_LINES)
    out = []
    for key in sorted(allowed):
        path, _, name = key.partition("::")
        if key not in sizes:
            out.append(f"{path}:1: SIZE_EXCEPTIONS names {key!r}, which no longer exists")
        elif sizes[key][1] <= sizes[key][2]:
            line, length, limit = sizes[key]
            out.append(
                f"{path}:{line}: {name or 'module'} is {length} lines, within {limit}: "
                "drop its SIZE_EXCEPTIONS entry"
            )
    return out


# ---------------------------------------------------------------------------------------------
# The checks on the real tree.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project() -> list[Source]:
    sources = parse_tree(ROOT)
    assert sources, f"no modules found under {ROOT / 'src' / 'promptpulse'}"
    return sources


def _fail_on(violations: list[str]) -> None:
    if violations:
        pytest.fail("\n".join(violations), pytrace=False)


def test_imports_follow_the_floors(project: list[Source]) -> None:
    _fail_on(import_violations(project))


def test_no_module_over_the_limit(project: list[Source]) -> None:
    _fail_on(module_size_violations(project, SIZE_EXCEPTIONS))


def test_no_function_over_the_limit(project: list[Source]) -> None:
    _fail_on(function_size_violations(project, SIZE_EXCEPTIONS))


def test_size_exceptions_still_needed(project: list[Source]) -> None:
    _fail_on(stale_exceptions(project, SIZE_EXCEPTIONS))


def test_rules_name_promptpulse_packages() -> None:
    """A typo in a rule's package would make it check nothing, silently."""
    for rule in RULES:
        who = (rule.who,) if isinstance(rule.who, str) else rule.who
        unless = (rule.unless,) if isinstance(rule.unless, str) else rule.unless
        for name in (*who, *unless, *(rule.only or ())):
            assert _within(name, "promptpulse"), (name, rule.why)


# ---------------------------------------------------------------------------------------------
# The checker checked, on tiny synthetic trees, so it cannot silently pass everything.
# ---------------------------------------------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> list[Source]:
    for name, text in files.items():
        path = root / "src" / "promptpulse" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return parse_tree(root)


def test_a_forbidden_import_is_caught_on_its_line(tmp_path: Path) -> None:
    sources = _tree(
        tmp_path,
        {
            "model/__init__.py": '"""Model."""\n\nfrom promptpulse.query import engine\n',
            "query/__init__.py": "",
            "query/engine.py": "",
        },
    )
    assert import_violations(sources) == [
        "src/promptpulse/model/__init__.py:3: promptpulse.model imports promptpulse.query.engine: "
        f"{RULES[2].why}"
    ]


def test_an_import_inside_a_method_is_caught(tmp_path: Path) -> None:
    sources = _tree(
        tmp_path,
        {
            "alerts/service.py": (
                "class Service:\n"
                "    def run(self):\n"
                "        if True:\n"
                "            from promptpulse.budgets import service\n"
                "        import duckdb\n"
            ),
            "budgets/service.py": "",
        },
    )
    path = "src/promptpulse/alerts/service.py"
    assert [v.split(": ", 2)[:2] for v in import_violations(sources)] == [
        [f"{path}:4", "promptpulse.alerts.service imports promptpulse.budgets.service"],
        [f"{path}:5", "promptpulse.alerts.service imports duckdb"],
    ]


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    sources = _tree(
        tmp_path,
        {
            "store/__init__.py": "from .duck import DuckStore\n",
            "store/duck/__init__.py": "from .reader import read\n",
            "store/duck/reader.py": (
                "import duckdb\nfrom .. import base\nfrom ...query import engine\n"
            ),
            "store/base.py": "",
            "query/engine.py": "",
        },
    )
    imports = {(i.importer, i.line, i.module) for i in collect_imports(sources)}
    assert imports == {
        ("promptpulse.store", 1, "promptpulse.store.duck"),
        ("promptpulse.store.duck", 1, "promptpulse.store.duck.reader"),
        ("promptpulse.store.duck.reader", 1, "duckdb"),
        ("promptpulse.store.duck.reader", 2, "promptpulse.store.base"),
        ("promptpulse.store.duck.reader", 3, "promptpulse.query.engine"),
    }
    assert import_violations(sources) == [
        "src/promptpulse/store/duck/reader.py:3: promptpulse.store.duck.reader imports "
        f"promptpulse.query.engine: {RULES[4].why}"
    ]


def test_allowed_imports_pass(tmp_path: Path) -> None:
    sources = _tree(
        tmp_path,
        {
            "errors.py": "import dataclasses\n",
            "model/__init__.py": "from promptpulse.errors import Invalid\nfrom . import scope\n",
            "model/scope.py": "from promptpulse.model import rows\n",
            "model/rows.py": "",
            "store/__init__.py": "from promptpulse.model import rows\n",
            "query/engine.py": (
                "import numpy\nfrom promptpulse.store import open_store\n"
                "def f():\n    from promptpulse.model.scope import Scope\n"
            ),
            "alerts/service.py": (
                "from promptpulse.store import Store\n"
                "from promptpulse import query\n"
                "from promptpulse.reports import service\n"
            ),
            "budgets/service.py": "from promptpulse.alerts import service\n",
            "reports/service.py": "",
            "sdk/client.py": "import httpx\nfrom promptpulse.sdk.track import Call\n",
            "web/app.py": "import fastapi\nfrom promptpulse.alerts import service\n",
        },
    )
    assert import_violations(sources) == []


def test_the_store_door_only(tmp_path: Path) -> None:
    sources = _tree(
        tmp_path,
        {
            "store/__init__.py": "def open_store(): ...\n",
            "store/duck/__init__.py": "",
            "web/api.py": (
                "from promptpulse.store import open_store\n"
                "from promptpulse.store import duck\n"
                "import promptpulse.store.duck\n"
                "from promptpulse.lazy import LazyModule\n"
                "sql = LazyModule('sqlite3')\n"
            ),
        },
    )
    assert [v.split(": ", 1)[0] for v in import_violations(sources)] == [
        "src/promptpulse/web/api.py:2",
        "src/promptpulse/web/api.py:3",
        "src/promptpulse/web/api.py:5",
    ]


def test_absent_packages_have_nothing_to_check(tmp_path: Path) -> None:
    assert parse_tree(tmp_path) == []
    sources = _tree(tmp_path, {"cli.py": "import duckdb\n"})
    assert import_violations(sources) == [
        "src/promptpulse/cli.py:1: promptpulse.cli imports duckdb: "
        "duckdb is imported only in store.duck"
    ]


def test_size_limits_and_their_exceptions(tmp_path: Path) -> None:
    sources = _tree(
        tmp_path,
        {
            "ok.py": "@decorator\n@other\ndef fits():\n" + "    x = 1\n" * 59,
            "long.py": (
                "class A:\n    def method(self):\n"  # lines 1-2
                + "        x = 1\n" * 60  # 3-62: the method is 61 lines
                + "\ndef spared():\n"  # 63-64
                + "    x = 1\n" * 61  # 65-125
                + "def short():\n    pass\n"  # 126-127
            ),
            "big.py": "\n" * (MAX_MODULE_LINES + 1),
        },
    )
    allowed = {
        "src/promptpulse/long.py::spared": "a reason",
        "src/promptpulse/long.py::short": "rotted",
        "src/promptpulse/long.py::gone": "rotted",
        "src/promptpulse/ok.py": "rotted",
    }
    assert function_size_violations(sources, allowed) == [
        "src/promptpulse/long.py:2: A.method is 61 lines (max 60)"
    ]
    assert module_size_violations(sources, allowed) == [
        "src/promptpulse/big.py:1: module is 501 lines (max 500)"
    ]
    assert module_size_violations(sources, {"src/promptpulse/big.py": "why"}) == []
    assert stale_exceptions(sources, allowed) == [
        "src/promptpulse/long.py:1: SIZE_EXCEPTIONS names "
        "'src/promptpulse/long.py::gone', which no longer exists",
        "src/promptpulse/long.py:126: short is 2 lines, within 60: drop its SIZE_EXCEPTIONS entry",
        "src/promptpulse/ok.py:1: module is 62 lines, within 500: drop its SIZE_EXCEPTIONS entry",
    ]
