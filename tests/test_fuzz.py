"""Seeded mutations of the real fixture files through the whole offline pipeline: read,
diagnose, render (Markdown, JSON), redact, digest and triage in every format. An input
the readers refuse is an InputError (exit 2, one line); anything else that escapes is a
crash a collector's odd file could cause.

The mutations keep a JSON file JSON where they can (values swapped for other types,
huge, negative or empty ones, keys dropped, items repeated) so that they reach past the
decoder into the readers and the engine; other files get bytes flipped, inserted, cut.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest
from realfiles import FIXTURES

from incident import pipeline
from incident.errors import InputError
from incident.render.json import render_json
from incident.render.markdown import render_markdown
from incident.render.triage import render_triage

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "checkout-db-latency"
KINDS = (".json", ".jsonl", ".log", ".txt", ".gz")
SOURCES = sorted(
    p
    for p in [*FIXTURES.rglob("*"), *SAMPLE.glob("*")]
    if p.is_file() and p.suffix in KINDS and p.stat().st_size < 400_000
)
ODD: list[Any] = [
    None, 0, -1, 2**70, -(2**63), 1.5e308, "NaN", "", "x" * 5000, [], {}, [1, [2]],
    {"a": {"b": None}}, True, "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
    "\u202e\x00\x1b[31m", "-0", "0x10", 3.7,
]  # fmt: skip
CASES = 1200


def _mutate(o: Any, rng: random.Random) -> Any:
    if isinstance(o, dict):
        if o and rng.random() < 0.15:
            key = rng.choice(list(o))
            if rng.random() < 0.5:
                del o[key]
            else:
                o[key] = rng.choice(ODD)
        for key in list(o):
            if rng.random() < 0.3:
                o[key] = _mutate(o[key], rng)
        return o
    if isinstance(o, list):
        if o and rng.random() < 0.1:
            o.append(rng.choice(o))
        if o and rng.random() < 0.1:
            o.insert(0, rng.choice(ODD))
        for i in range(len(o)):
            if rng.random() < 0.2:
                o[i] = _mutate(o[i], rng)
        return o
    if rng.random() < 0.2:
        return rng.choice(ODD)
    if isinstance(o, str) and rng.random() < 0.2:
        return o.upper() if rng.random() < 0.5 else o[: len(o) // 2]
    if isinstance(o, int) and not isinstance(o, bool) and rng.random() < 0.2:
        return -o
    return o


def _bytes(raw: bytes, rng: random.Random) -> bytes:
    b = bytearray(raw)
    for _ in range(rng.randint(1, 20)):
        if not b:
            break
        i = rng.randrange(len(b))
        op = rng.random()
        if op < 0.4:
            b[i] = rng.randrange(256)
        elif op < 0.7:
            b[i:i] = rng.choice([b",", b"\n", b"\x00", b'"', b"-", b"9" * 30, b"\t"])
        else:
            del b[i : i + rng.randint(1, 50)]
    if rng.random() < 0.2:
        b = b[: rng.randrange(len(b) + 1)]
    return bytes(b)


def _variant(path: Path, rng: random.Random) -> bytes:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        lines = raw.decode().splitlines()
        if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines[:3] if line):
            return "\n".join(json.dumps(_mutate(json.loads(line), rng)) for line in lines).encode()
        return json.dumps(_mutate(json.loads(raw), rng)).encode()
    except ValueError:  # not UTF-8 or not JSON (lines): mutate the bytes
        return _bytes(raw, rng)


@pytest.mark.parametrize("block", range(6))
def test_mutated_real_inputs_never_crash_the_pipeline(block: int, tmp_path: Path) -> None:
    assert len(SOURCES) > 20
    for seed in range(block * CASES // 6, (block + 1) * CASES // 6):
        rng = random.Random(seed)
        source = rng.choice(SOURCES)
        name = source.name.removesuffix(".gz")
        path = tmp_path / f"{seed}-{name}"
        path.write_bytes(_variant(source, rng))
        role = rng.choice(["traces", "alerts", "alerts", "logs"])
        try:
            bundle = pipeline.load(
                [str(path)] if role == "traces" else [],
                logs=[str(path)] if role == "logs" else [],
                alerts=[str(path)] if role == "alerts" else [],
            )
        except InputError:
            continue
        try:
            run = pipeline.analyse(bundle)
            render_markdown(run.report)
            render_json(run.report)
            render_markdown(run.shareable())
            pipeline.build_digest(run, 8000)
            if bundle.alerts:
                t = pipeline.triage(list(bundle.alerts), [], bundle, report=run.report)
                for fmt in ("text", "md", "json", "slack"):
                    render_triage(t, fmt)
                render_triage(pipeline.shareable_triage(t), "md")
        except Exception as exc:  # a crash: say which seed and file made it
            raise AssertionError(f"seed {seed}, {source.name} as {role}: {exc!r}") from exc
