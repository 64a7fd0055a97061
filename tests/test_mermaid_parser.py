"""The Mermaid blocks the postmortem emits parse with Mermaid's own parser (Node + jsdom)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "mermaid"


def _node_ready() -> str:
    """Node.js and the packages `make mermaid` installed from package-lock.json; the test
    itself never installs anything (no network during tests)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: Mermaid's own parser cannot run here")
    assert (HERE / "node_modules" / "mermaid").is_dir(), (
        "Mermaid's parser is not installed: run `make mermaid` (npm ci from package-lock.json)"
    )
    return node


def test_postmortems_parse_with_mermaids_own_parser(tmp_path: Path) -> None:
    """Every golden postmortem and a freshly rendered one for the bundled sample hold
    Mermaid that Mermaid itself accepts; a broken diagram makes the checker fail."""
    node = _node_ready()
    sample = tmp_path / "sample.md"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "incident",
            "diagnose",
            str(ROOT / "samples" / "checkout-db-latency"),
            "--no-ai",
            "-o",
            str(sample),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    files = [str(sample), *map(str, sorted((ROOT / "tests" / "golden").glob("*.md")))]
    proc = subprocess.run(
        [node, "check.mjs", *files], cwd=HERE, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 failed" in proc.stdout

    broken = tmp_path / "broken.md"
    # A task without task data: the kind of line an unescaped name could produce.
    broken.write_text("```mermaid\ngantt\n    dateFormat x\n    section a\n    POST /x\n```\n")
    proc = subprocess.run(
        [node, "check.mjs", str(broken)], cwd=HERE, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1
