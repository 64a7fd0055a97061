"""Benchmark: `incident diagnose` against the msgspec reading floor, side by side.

Generates exports of chosen sizes with the project's scenario generator, then runs the floor
(bench/floor.py) and the tool alternately, several times each, and prints medians of wall
time and peak memory (max RSS from wait4) with the ratios, plus start-up time and how the
cost grows with size. Usage:

    python bench/run.py                       # 10k, 100k, 1M spans, OTLP JSON, 3 runs
    python bench/run.py --spans 100000 --runs 5 --formats otlp-json,otlp-proto,jaeger,zipkin
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
EXT = {"otlp-json": "json", "otlp-proto": "pb", "jaeger": "jaeger.json", "zipkin": "zipkin.json"}


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """Run `cmd`, return (wall seconds, peak RSS in MiB, CPU seconds) of that child alone.

    CPU time (user + system) is reported beside wall time: on a machine shared with other
    work it moves much less from run to run.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{err}")
    if proc.stderr:
        proc.stderr.close()
    # ru_maxrss is KiB on Linux.
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def generate(spans: int, fmt: str) -> Path:
    """Write (once) an export of about `spans` spans in `fmt`; reuse it on later runs."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"export-{spans}.{EXT[fmt]}"
    if path.exists():
        return path
    # In a child process: the generator's memory must not inflate the measured children's
    # peak RSS, which on Linux starts from the parent's at fork.
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generate.py"), str(path), str(spans), fmt],
        check=True,
        capture_output=True,
        text=True,
    )
    written = int(out.stdout.strip())
    size = path.stat().st_size / 2**20
    print(
        f"  generated {path.name}: {written} spans, {size:.0f} MiB "
        f"in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    return path


def tool_cmd(path: Path) -> list[str]:
    return [sys.executable, "-m", "incident", "diagnose", str(path), "--no-ai", "--format", "json"]


def floor_cmd(path: Path) -> list[str]:
    return [sys.executable, str(ROOT / "bench" / "floor.py"), str(path)]


def medians(samples: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    wall, mib, cpu = zip(*samples, strict=True)
    return statistics.median(wall), statistics.median(mib), statistics.median(cpu)


def bench_size(spans: int, fmt: str, runs: int) -> dict[str, float]:
    path = generate(spans, fmt)
    floor: list[tuple[float, float, float]] = []
    tool: list[tuple[float, float, float]] = []
    for _ in range(runs):  # alternate so drift on a shared machine hits both alike
        if fmt == "otlp-json":
            floor.append(measure(floor_cmd(path)))
        tool.append(measure(tool_cmd(path)))
    tw, tm, tc = medians(tool)
    row = {"spans": spans, "tool_s": tw, "tool_mib": tm, "tool_cpu": tc}
    if floor:
        fw, fm, fc = medians(floor)
        row.update(
            floor_s=fw,
            floor_mib=fm,
            floor_cpu=fc,
            time_ratio=tw / fw,
            mem_ratio=tm / fm,
            cpu_ratio=tc / fc,
        )
    return row


def startup(runs: int) -> float:
    cmd = [sys.executable, "-m", "incident", "--help"]
    return statistics.median(measure(cmd)[0] for _ in range(max(runs, 5)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="otlp-json")
    args = parser.parse_args()
    sizes = [int(s) for s in args.spans.split(",")]
    # An installed tool runs from cached bytecode (pip compiles a wheel at install; a first
    # run writes the cache). Where PYTHONDONTWRITEBYTECODE is set and the project is an
    # editable install, every run would compile the package from source again (about
    # 0.1 s): compile it once, as an installation would, before anything is timed.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "incident")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; medians of {args.runs} runs"
    )
    print(f"start-up (`incident --help`): {startup(args.runs) * 1000:.0f} ms")
    header = (
        f"{'format':<11}{'spans':>9}{'tool s':>9}{'cpu s':>8}{'tool MiB':>10}"
        f"{'floor s':>9}{'cpu s':>8}{'floor MiB':>10}{'time x':>8}{'cpu x':>7}{'mem x':>7}"
        f"{'us/span':>9}"
    )
    print(header)
    for fmt in args.formats.split(","):
        rows: list[dict[str, float]] = []
        for spans in sizes:
            r = bench_size(spans, fmt, args.runs)
            rows.append(r)
            floor = (
                f"{r['floor_s']:>9.2f}{r['floor_cpu']:>8.2f}{r['floor_mib']:>10.0f}"
                f"{r['time_ratio']:>8.2f}{r['cpu_ratio']:>7.2f}{r['mem_ratio']:>7.2f}"
                if "floor_s" in r
                else f"{'-':>9}{'-':>8}{'-':>10}{'-':>8}{'-':>7}{'-':>7}"
            )
            per_span = r["tool_s"] / spans * 1e6
            print(
                f"{fmt:<11}{spans:>9}{r['tool_s']:>9.2f}{r['tool_cpu']:>8.2f}"
                f"{r['tool_mib']:>10.0f}{floor}{per_span:>9.1f}"
            )
            sys.stdout.flush()
        for small, big in itertools.pairwise(rows):
            # Linear growth reads as time x and memory x close to the size x.
            print(
                f"  growth {small['spans']:.0f} -> {big['spans']:.0f} spans "
                f"(x{big['spans'] / small['spans']:.0f}): "
                f"time x{big['tool_s'] / small['tool_s']:.1f}, "
                f"cpu x{big['tool_cpu'] / small['tool_cpu']:.1f}, "
                f"memory x{big['tool_mib'] / small['tool_mib']:.1f}"
            )


if __name__ == "__main__":
    main()
