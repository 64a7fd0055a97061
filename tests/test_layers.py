"""The data flows one way: ingest and sources -> analysis -> redact and digest -> llm and
tools -> render, with the CLI, the pipeline and the receiver on top. A module never imports
a layer downstream of its own, lazily inside a function either (read from the source, every
import statement counted)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "incident"

# The contracts every layer shares (records, report, errors, small helpers) sit below all.
BASE = ("model", "report", "triage_report", "errors", "text", "escape", "log", "forking", "outfile")
# Per layer (a package or module under incident/), what it must not import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    **{base: ("ingest", "sources", "analysis", "redact", "digest", "llm", "tools", "render",
              "pipeline", "cli", "serve", "mcp") for base in BASE},
    "ingest": ("analysis", "redact", "digest", "llm", "tools", "render", "pipeline", "cli",
               "serve", "mcp"),
    "sources": ("analysis", "redact", "digest", "llm", "tools", "render", "pipeline", "cli",
                "serve", "mcp"),
    "analysis": ("redact", "digest", "llm", "tools", "render", "pipeline", "cli", "serve",
                 "mcp"),
    "redact": ("llm", "tools", "render", "pipeline", "cli", "serve", "mcp"),
    "digest": ("llm", "tools", "render", "pipeline", "cli", "serve", "mcp"),
    "render": ("llm", "pipeline", "cli", "serve", "mcp"),
}  # fmt: skip


def _layer(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported(path: Path) -> set[str]:
    """The top-level `incident.X` names a module imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "incident":
                names = [f"incident.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "incident" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _layer(p) in FORBIDDEN)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_module_imports_downstream(path: Path) -> None:
    bad = _imported(path) & set(FORBIDDEN[_layer(path)])
    assert not bad, f"{path.relative_to(ROOT)} imports downstream: {sorted(bad)}"


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from incident.analysis import diagnose\n    import incident.render\n"
    )
    assert _imported(module) == {"analysis", "render"}
