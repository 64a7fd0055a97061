"""Scale beyond one file: N million spans across rotated OpenTelemetry Collector files.

The Collector's file exporter writes OTLP JSON Lines and rotates them; a long incident is a
folder of such files. This builds that folder (once, cached in bench/out/) from the 1M-span
benchmark export: copy k keeps every span with its trace ids re-prefixed by k and its times
moved on by k export lengths, written as JSON lines of at most 2,000 spans. Then it runs
`incident diagnose FOLDER` on the first 1, 3 and N files, several times each, and prints the
median wall time, CPU time and peak memory, and how each grows per million spans.

    python bench/rotated.py                  # 1, 3 and 5 million spans, 3 runs each
    python bench/rotated.py --files 5 --runs 1
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import OUT, generate, measure

LINE_SPANS = 2000
MILLION = 1_000_000


def _span_bounds(doc: dict[str, Any]) -> tuple[int, int]:
    lo, hi = None, None
    for rs in doc["resourceSpans"]:
        for ss in rs.get("scopeSpans", []):
            for s in ss["spans"]:
                a, b = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
                lo = a if lo is None or a < lo else lo
                hi = b if hi is None or b > hi else hi
    return lo or 0, hi or 0


def _write_copy(doc: dict[str, Any], k: int, shift: int, path: Path) -> int:
    """One rotated file: every span re-keyed for copy `k`, as OTLP JSON lines."""
    encoder = msgspec.json.Encoder()
    written = 0
    prefix = f"{k:02x}"
    with path.open("wb") as out:
        for rs in doc["resourceSpans"]:
            for ss in rs.get("scopeSpans", []):
                spans = ss["spans"]
                for at in range(0, len(spans), LINE_SPANS):
                    chunk = []
                    for s in spans[at : at + LINE_SPANS]:
                        c = dict(s)
                        c["traceId"] = prefix + s["traceId"][2:]
                        c["startTimeUnixNano"] = str(int(s["startTimeUnixNano"]) + shift)
                        c["endTimeUnixNano"] = str(int(s["endTimeUnixNano"]) + shift)
                        chunk.append(c)
                    line = {
                        "resourceSpans": [
                            {
                                "resource": rs.get("resource", {}),
                                "scopeSpans": [{"scope": ss.get("scope", {}), "spans": chunk}],
                            }
                        ]
                    }
                    out.write(encoder.encode(line))
                    out.write(b"\n")
                    written += len(chunk)
    return written


def build(files: int) -> list[Path]:
    """The rotated files (cached): copy k of the 1M-span export per file."""
    folder = OUT / "rotated"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"traces-{k:03d}.jsonl" for k in range(files)]
    missing = [(k, p) for k, p in enumerate(paths) if not p.exists()]
    if missing:
        source = generate(MILLION, "otlp-json")
        doc = msgspec.json.decode(source.read_bytes())
        lo, hi = _span_bounds(doc)
        for k, p in missing:
            tmp = p.with_suffix(".tmp")
            n = _write_copy(doc, k, k * (hi - lo + 1_000_000_000), tmp)
            tmp.rename(p)
            print(f"  wrote {p.name}: {n} spans", file=sys.stderr)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=5, help="rotated files of 1M spans each")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        build(args.files)
        return
    # Built in a child: a forked child's peak RSS starts from its parent's, and decoding the
    # source export takes gigabytes.
    builder = [sys.executable, __file__, "--files", str(args.files), "--build-only"]
    subprocess.run(builder, check=True)
    paths = build(args.files)
    steps = sorted({1, min(3, args.files), args.files})
    print(
        f"{'spans':>10}{'files':>7}{'wall s':>9}{'cpu s':>8}{'peak MiB':>10}{'s/M':>7}{'MiB/M':>7}"
    )
    for n in steps:
        view = OUT / f"rotated-{n}"
        view.mkdir(exist_ok=True)
        for p in paths[:n]:
            link = view / p.name
            if not link.exists():
                link.symlink_to(p)
        cmd = [sys.executable, "-m", "incident", "diagnose", str(view), "--no-ai"]
        runs = [measure([*cmd, "--format", "json"]) for _ in range(args.runs)]
        wall = statistics.median(r[0] for r in runs)
        mib = statistics.median(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs)
        print(
            f"{n * MILLION:>10,}{n:>7}{wall:>9.1f}{cpu:>8.1f}{mib:>10.0f}{wall / n:>7.1f}"
            f"{mib / n:>7.0f}"
        )


if __name__ == "__main__":
    main()
