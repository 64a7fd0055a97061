"""The Claude step, and the only package that imports the Anthropic SDK (lazily, inside
functions, because it takes about a second to import)."""

from incident.llm.explain import DEFAULT_MODEL, build_request, explain, restore_placeholders
from incident.llm.investigate import investigate
from incident.llm.prompts import PROMPT_VERSION, load_prompt

__all__ = [
    "DEFAULT_MODEL",
    "PROMPT_VERSION",
    "build_request",
    "explain",
    "investigate",
    "load_prompt",
    "restore_placeholders",
]
