"""promptpulse.notify is a floor: it imports no other part of PromptPulse but errors, config and
model (the pure floor: how a figure reads, `model.fmt`, and the catalog's units), and the rest
reaches it through its door (`promptpulse.notify`), never its modules."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "promptpulse"


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {m for m in out if m == "promptpulse" or m.startswith("promptpulse.")}


def test_notify_imports_only_errors_config_and_model() -> None:
    allowed = (
        "promptpulse.notify",
        "promptpulse.errors",
        "promptpulse.config",
        "promptpulse.model",
    )
    for path in sorted((SRC / "notify").glob("*.py")):
        bad = {m for m in _imports(path) if not m.startswith(allowed)}
        assert not bad, f"{path.name} imports {bad}"


def test_others_use_the_door() -> None:
    for path in sorted(SRC.rglob("*.py")):
        if path.parent.name == "notify":
            continue
        inside = {m for m in _imports(path) if m.startswith("promptpulse.notify.")}
        assert not inside, f"{path.relative_to(SRC)} imports {inside}: use promptpulse.notify"
