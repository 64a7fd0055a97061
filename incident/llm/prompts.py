"""Finds and loads the versioned prompt files: `prompts/` in a source checkout, or
`incident/_prompts` where the wheel installs them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

PROMPT_VERSION = "v1"

_PACKAGE = Path(__file__).resolve().parent.parent


def prompt_dirs() -> list[Path]:
    """Where prompts may live, installed copy first."""
    return [_PACKAGE / "_prompts", _PACKAGE.parent / "prompts"]


@cache
def load_prompt(name: str, version: str = PROMPT_VERSION) -> str:
    """The text of `<name>.<version>.md`, e.g. `load_prompt("system")`."""
    filename = f"{name}.{version}.md"
    for folder in prompt_dirs():
        path = folder / filename
        if path.is_file():
            return path.read_text(encoding="utf-8")
    searched = ", ".join(str(d) for d in prompt_dirs())
    raise FileNotFoundError(f"prompt {filename} not found (looked in {searched})")
