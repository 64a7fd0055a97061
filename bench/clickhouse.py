"""Benchmark: diagnosing a large ClickHouse store (chdb, embedded) against the file path.

Builds a chdb store of `--spans` spans: one generated incident (tests/synth) is loaded with
`incident load`'s writer, then copied inside the store by SQL with fresh trace and span ids and
the same times, so the store holds a denser version of the same incident (the same verdict is
expected). Then, each in its own child process:

- `cli`: the command line, `python -m incident diagnose chdb:PATH --format json --no-ai`, as
  a subprocess: wall time and its peak RSS (os.wait4; Python *and* chdb's engine); then the
  same command run in-process under tracemalloc for the Python heap's peak. This is the route
  a user takes: SQL statistics over every trace, the failed, slowest and sampled traces
  fetched whole, the store's numbers put into the report by the source's adjuster.
- `store`: `diagnose_store` on the whole store (SQL statistics + a seeded sample of whole
  traces). Reported: wall time, peak RSS of the process (Python *and* chdb's engine, which
  runs in-process and cannot be separated from it), and, in a second run, the Python heap's
  peak from tracemalloc (the client's own memory: spans, the engine's tables, the report).
- `file`: `incident.ingest.load` + the engine on an OTLP/JSON export of `--file-spans` spans
  of the same incident, for comparison (wall time, peak RSS, tracemalloc peak).

Usage:
    python bench/clickhouse.py                          # 10M spans in chdb, 1M in a file
    python bench/clickhouse.py --store /tmp/s.chdb      # build it there once, reuse after
    python bench/clickhouse.py --spans 1000000 --file-spans 200000
    python bench/clickhouse.py --file-spans 0            # the store alone
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def build_store(url: str, spans: int, template_traces: int) -> int:
    """A store of about `spans` spans: one generated incident, copied with new ids."""
    from synth import generate
    from synth.writers import write_otlp_json

    from incident.sources import clickhouse as ch

    sc = generate("slow-db", seed=21, traces=template_traces, logs=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "template.json"
        write_otlp_json(sc.spans, path)
        ch.load_into([str(path)], url)
    copies = max(0, -(-spans // len(sc.spans)) - 1)
    target = ch.parse(url)
    store = ch.open_store(target)
    t = target.traces
    template = f"{target.database}.bench_template"
    try:
        store.command(
            f"CREATE TABLE {template} ENGINE = MergeTree ORDER BY tuple() AS SELECT * FROM {t}"
        )
        # Batches of copies keep each INSERT's memory in the engine bounded.
        for lo in range(1, copies + 1, 20):
            hi = min(copies, lo + 19)
            store.command(
                f"INSERT INTO {t} SELECT Timestamp + toIntervalNanosecond(k * 1000), "
                "concat(leftPad(hex(k), 8, '0'), substring(TraceId, 9)), "
                "concat(leftPad(hex(k), 6, '0'), substring(SpanId, 7)), "
                "if(ParentSpanId = '', '', concat(leftPad(hex(k), 6, '0'), "
                "substring(ParentSpanId, 7))), TraceState, SpanName, SpanKind, ServiceName, "
                "ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, "
                "StatusCode, StatusMessage, `Events.Timestamp`, `Events.Name`, "
                "`Events.Attributes`, `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, "
                f"`Links.Attributes` FROM {template} ARRAY JOIN range({lo}, {hi + 1}) AS k"
            )
        store.command(f"DROP TABLE {template}")
        (row,) = list(ch.rows(store, f"SELECT count() FROM {t}"))
    finally:
        store.close()
    return int(row[0])


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_store(url: str, heap: bool) -> dict[str, object]:
    from incident.store_run import diagnose_store

    if heap:
        tracemalloc.start()
    started = time.perf_counter()
    got = diagnose_store(url)
    out: dict[str, object] = {
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(_peak_rss_mib()),
        "sampled": got.sampled,
        "top": [(c.service, c.kind) for c in got.report.root_causes[:3]],
        "verdict": got.report.verdict.status,
        "traces": got.report.data_quality.traces,
    }
    if heap:
        out["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20)
    return out


def _summary(report: dict[str, object]) -> dict[str, object]:
    r: dict[str, Any] = report
    fetched = [w for w in r["data_quality"]["warnings"] if "fetched whole" in w]
    return {
        "top": [(c["service"], c["kind"]) for c in r["root_causes"][:3]],
        "verdict": r["verdict"]["status"],
        "traces": r["data_quality"]["traces"],
        "spans": r["data_quality"]["spans"],
        "fetched_whole": fetched[0].split(": ", 1)[1].split(" of the ")[0] if fetched else None,
    }


def measure_cli(url: str) -> dict[str, object]:
    """The command line in a subprocess; its peak RSS from os.wait4 (kilobytes on Linux)."""
    args = [sys.executable, "-m", "incident", "diagnose", url, "--format", "json", "--no-ai"]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(err.read().decode()[-2000:])
        report = json.loads(out.read())
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
        **_summary(report),
    }


def measure_cli_heap(url: str) -> dict[str, object]:
    """The same command in this process, under tracemalloc: the Python heap's peak."""
    import contextlib
    import io

    from incident.cli import app

    buffer = io.StringIO()
    tracemalloc.start()
    started = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        app(["diagnose", url, "--format", "json", "--no-ai"], standalone_mode=False)
    out: dict[str, object] = {
        "seconds": round(time.perf_counter() - started, 2),
        "tracemalloc_peak_mib": round(tracemalloc.get_traced_memory()[1] / 2**20),
        "peak_rss_mib": round(_peak_rss_mib()),
    }
    out.update(_summary(json.loads(buffer.getvalue())))
    return out


def measure_file(path: str, heap: bool) -> dict[str, object]:
    from incident.analysis import diagnose
    from incident.ingest import load

    if heap:
        tracemalloc.start()
    started = time.perf_counter()
    report = diagnose(load([path]))
    out: dict[str, object] = {
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(_peak_rss_mib()),
        "top": [(c.service, c.kind) for c in report.root_causes[:3]],
        "verdict": report.verdict.status,
        "spans": report.data_quality.spans,
    }
    if heap:
        out["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20)
    return out


def write_export(path: str, spans: int) -> dict[str, object]:
    """An OTLP/JSON export of about `spans` spans of the same incident, for the file path."""
    from synth import generate
    from synth.writers import write_otlp_json

    probe = generate("slow-db", seed=21, traces=200, logs=False)
    per_trace = len(probe.spans) / 200
    sc = generate("slow-db", seed=21, traces=max(1, round(spans / per_trace)), logs=False)
    write_otlp_json(sc.spans, Path(path))
    return {"spans": len(sc.spans)}


def _child(*args: str) -> dict[str, object]:
    """One step in a fresh process: the peak RSS it reports is its own (a child started from
    a large parent would inherit the parent's high-water mark through fork and exec)."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, check=False
    )
    if proc.returncode:
        raise SystemExit(proc.stderr.decode()[-2000:])
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=10_000_000)
    ap.add_argument("--file-spans", type=int, default=1_000_000)
    ap.add_argument("--template-traces", type=int, default=2_000)
    ap.add_argument("--store", help="a chdb folder: used if it exists, else built there")
    ap.add_argument("--no-store-api", action="store_true", help="skip diagnose_store's runs")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, where, arg = args.child
        if what == "build":
            started = time.perf_counter()
            n = build_store(where, args.spans, args.template_traces)
            out = {"spans": n, "seconds": round(time.perf_counter() - started, 1)}
        elif what == "export":
            out = write_export(where, int(arg))
        elif what == "store":
            out = measure_store(where, arg == "1")
        elif what == "cli":
            out = measure_cli(where) if arg == "0" else measure_cli_heap(where)
        else:
            out = measure_file(where, arg == "1")
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"chdb:{args.store or Path(tmp) / 'store'}"
        if args.store and Path(args.store).is_dir():
            print("store reused:", args.store)
        else:
            print("store built:", _run_build(url, args))
        print("cli diagnose:", _child("cli", url, "0"))
        print("cli diagnose (tracemalloc):", _child("cli", url, "1"))
        if not args.no_store_api:
            print("store diagnose:", _child("store", url, "0"))
            print("store diagnose (tracemalloc):", _child("store", url, "1"))
        if args.file_spans > 0:  # 0: the store alone
            path = str(Path(tmp) / "export.json")
            print("export written:", _child("export", path, str(args.file_spans)))
            print("file diagnose:", _child("file", path, "0"))
            print("file diagnose (tracemalloc):", _child("file", path, "1"))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")


def _run_build(url: str, args: argparse.Namespace) -> dict[str, object]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--spans",
            str(args.spans),
            "--template-traces",
            str(args.template_traces),
            "--child",
            "build",
            url,
            "-",
        ],
        capture_output=True,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(proc.stderr.decode()[-2000:])
    result: dict[str, object] = json.loads(proc.stdout)
    return result


if __name__ == "__main__":
    main()
