"""The wheel carries what the installed tool needs outside Python files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_prompts_and_template(tmp_path: Path) -> None:
    """The prompts and the postmortem template are inside the wheel, where the installed
    package looks for them (incident/_prompts, incident/render/templates)."""
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("incident-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for prompt in (ROOT / "prompts").glob("*.md"):
        assert f"incident/_prompts/{prompt.name}" in names
    assert "incident/render/templates/postmortem.md" in names
    assert "incident/cli/__init__.py" in names
    # Test support stays out of the wheel: the scenario generator lives in tests/synth.
    assert not [n for n in names if "synth" in n.split("/")[:-1] or n.startswith("tests/")]
    assert all(n.startswith(("incident/", "incident-")) for n in names)
