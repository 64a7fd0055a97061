"""An estimate of what a call cost, from a small table of list prices per model family.

Prices are USD per million tokens as published on Anthropic's model pages when this was
written; cache writes (5-minute) cost 1.25x input and cache reads 0.1x input. It is an
estimate: discounts, batch pricing and price changes are not modelled.
"""

from __future__ import annotations

from incident.report import Usage

# Longest matching prefix wins: (input, output) USD per million tokens.
PRICES: dict[str, tuple[float, float]] = {
    "claude-fable-5": (10.0, 50.0),
    "claude-opus-5-5": (4.0, 20.0),
    "claude-opus-5": (5.0, 25.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-6": (5.0, 25.0),
    "claude-opus-4-7": (5.0, 25.0),
    "claude-opus-4-8": (5.0, 25.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-5": (2.0, 10.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
}
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1


def prices_for(model: str) -> tuple[float, float] | None:
    best = max((p for p in PRICES if model.startswith(p)), key=len, default=None)
    return PRICES[best] if best else None


def estimate_cost(model: str, usage: Usage) -> float | None:
    """USD for `usage` on `model`, or None for a model not in the table."""
    prices = prices_for(model)
    if prices is None:
        return None
    inp, out = prices
    total = (
        usage.input_tokens * inp
        + usage.output_tokens * out
        + usage.cache_creation_input_tokens * inp * CACHE_WRITE_FACTOR
        + usage.cache_read_input_tokens * inp * CACHE_READ_FACTOR
    )
    return round(total / 1_000_000, 6)
