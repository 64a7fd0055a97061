"""Root-cause accuracy: how often the engine ranks the true faulty service first, on labelled
real faults (the development half of the Nezha dataset) and on synthetic ones.

Usage:

    python bench/accuracy.py                      # Nezha (both modes) + synth seeds 0..4
    python bench/accuracy.py --data DIR --modes baseline --no-synth --json out.json

Real faults (`--data`, default ../shared/realdata/rca/nezha next to the repository):
two days, OnlineBoutique (rca_data/2022-08-22) and TrainTicket (rca_data/2023-01-29). Each
fault in `<day>-fault_list.json` has an injection wall time (`inject_time`, the clock the
span timestamps use; `inject_timestamp` disagrees with it by ~8 h on TrainTicket and is not
used), the injected pod and a fault type. Truth is the pod's service, mapped exactly as the
span reader maps pods (`incident.ingest.span_csv.service_of_pod`).

Which minutes: for a fault injected at HH:MM:SS the incident export is the trace files
HH_MM, HH_MM+1 and HH_MM+2, those present, concatenated. A file HH_MM holds the spans of the
minute that *ends* near HH:MM:10 (checked on the span timestamps), so file HH_MM is mostly
fault-free traffic from before the injection and HH_MM+1 holds the injection instant. A
fault is scored when HH_MM+1 exists (that gives the dataset's 18 + 28 faults with trace data);
it is skipped, counted and listed otherwise. Faults without HH_MM have (almost) no pre-fault
traffic in their export; the tables show them apart in an extra overall row.

Modes, per fault:
  baseline  the incident export against the day's fault-free minute as `baseline`
            (construct_data/2022-08-23/trace/17_00 for OnlineBoutique,
            construct_data/2023-01-29/trace/08_50 for TrainTicket);
  export    the same export alone: the engine must find the change point itself.

Metrics per fault type and overall: AC@k = share of faults whose true service is among the
first k distinct services of `root_causes` (a report whose verdict is "no-incident", or with
no root cause, is a miss; so is a fault that failed to load or diagnose, shown as an error);
Avg@5 = mean of AC@1..AC@5. Root causes are matched by `service` (a cause on a database or
other component counts for the service it names).

Reference ("most added self time"), computed here from the spans independently of the
engine: a span's self time is its duration minus the union of its children's intervals;
services are ranked by (mean self time per span in the incident - mean in the comparison)
x span count in the incident. The comparison is the fault-free minute in `baseline` mode and,
in `export` mode, the earlier half of the export (split at the midpoint of its time range).

Synthetic faults: every scenario of `synth.SCENARIOS`, seeds 0..N-1, with its
fault-free baseline and without; truth is `scenario.truth.service`.

Healthy checks (false alarms): each system's fault-free minute alone, and its later half
against its earlier half; synthetic fault-free exports alone (`baseline_bundle()`), and the
pre-onset traffic of each synthetic incident against its baseline.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import multiprocessing
import os
import platform
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The package, and the scenario generator that lives with the tests (tests/synth).
for _path in (ROOT, ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from synth import SCENARIOS, generate  # noqa: E402

from incident.analysis import diagnose  # noqa: E402
from incident.ingest import finish, load  # noqa: E402
from incident.ingest.span_csv import service_of_pod  # noqa: E402
from incident.model import Bundle  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "realdata" / "rca" / "nezha"
MODES = ("baseline", "export")
SYSTEMS = {
    "2022-08-22": ("OnlineBoutique", "construct_data/2022-08-23/trace/17_00_trace.csv.gz"),
    "2023-01-29": ("TrainTicket", "construct_data/2023-01-29/trace/08_50_trace.csv.gz"),
}
NO_CALL = ("inconclusive", "no-incident")
TOP = 5

# A span for the reference: trace id, span id, parent id, service, start ns, end ns.
Rec = tuple[str, str, str | None, str, int, int]


@dataclass(frozen=True)
class Fault:
    day: str
    system: str
    time: str  # HH:MM:SS, the dataset's inject_time
    pod: str
    truth: str
    kind: str
    minutes: tuple[str, ...]  # HH_MM of the three minute files, present or not
    files: tuple[str, ...]  # the present ones, in order
    baseline: str
    inject_ns: int

    @property
    def pre_minute(self) -> bool:
        return bool(self.files) and Path(self.files[0]).name.startswith(self.minutes[0])


# -- the data -------------------------------------------------------------------------------


def faults(data: Path) -> tuple[list[Fault], list[dict[str, str]]]:
    """The scorable faults of both days, and the skipped ones with the reason."""
    found: list[Fault] = []
    skipped: list[dict[str, str]] = []
    for day, (system, baseline) in SYSTEMS.items():
        listing = data / "rca_data" / day / f"{day}-fault_list.json"
        with open(listing, encoding="utf-8") as fh:
            by_hour: dict[str, list[dict[str, str]]] = json.load(fh)
        for hour in sorted(by_hour):
            for f in by_hour[hour]:
                at = datetime.strptime(f["inject_time"], "%Y-%m-%d %H:%M:%S")
                minutes = tuple((at + timedelta(minutes=k)).strftime("%H_%M") for k in range(3))
                trace_dir = data / "rca_data" / day / "trace"
                paths = [trace_dir / f"{m}_trace.csv.gz" for m in minutes]
                present = tuple(str(p) for p in paths if p.exists())
                pod = f["inject_pod"]
                row = {"day": day, "time": at.strftime("%H:%M:%S"), "pod": pod}
                if not paths[1].exists():
                    have = ", ".join(Path(p).name[:5] for p in present) or "none"
                    skipped.append({**row, "kind": f["inject_type"], "present": have})
                    continue
                found.append(
                    Fault(
                        day=day,
                        system=system,
                        time=row["time"],
                        pod=pod,
                        truth=service_of_pod(pod),
                        kind=f["inject_type"],
                        minutes=minutes,
                        files=present,
                        baseline=str(data / baseline),
                        # The span clocks agree with inject_time read as UTC.
                        inject_ns=int(at.replace(tzinfo=UTC).timestamp()) * 10**9,
                    )
                )
    return found, skipped


def _open_text(path: str) -> io.TextIOBase:
    """A text stream over the file, gzip peeled by its magic bytes."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    if gz:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def csv_spans(paths: Iterable[str]) -> list[Rec]:
    """The spans of Nezha CSV files, read independently of the project's reader."""
    recs: list[Rec] = []
    for path in paths:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            header = next(reader)
            col = {name.strip(): i for i, name in enumerate(header)}
            t, s, p, pod = col["TraceID"], col["SpanID"], col["ParentID"], col["PodName"]
            a, b = col["StartTimeUnixNano"], col["EndTimeUnixNano"]
            width = max(t, s, p, pod, a, b) + 1
            services: dict[str, str] = {}
            for row in reader:
                if len(row) < width:
                    continue
                parent = row[p]
                service = services.get(row[pod])
                if service is None:
                    service = services[row[pod]] = service_of_pod(row[pod])
                try:
                    start, end = int(row[a]), int(row[b])
                except ValueError:
                    continue
                recs.append(
                    (
                        row[t],
                        row[s],
                        None if parent in ("", "root") else parent,
                        service,
                        start,
                        end,
                    )
                )
    return recs


def bundle_spans(bundle: Bundle) -> list[Rec]:
    return [
        (x.trace_id, x.span_id, x.parent_id, x.service, x.start_ns, x.end_ns) for x in bundle.spans
    ]


def self_times(recs: Sequence[Rec]) -> list[tuple[str, int, int]]:
    """(service, start, self time) per span: duration minus the union of its children's
    intervals (clipped to the span). A repeated (trace, span) id is counted once."""
    seen: set[tuple[str, str]] = set()
    uniq: list[Rec] = []
    for r in recs:
        key = (r[0], r[1])
        if key not in seen:
            seen.add(key)
            uniq.append(r)
    kids: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for trace, _, parent, _, start, end in uniq:
        if parent is not None:
            kids[(trace, parent)].append((start, end))
    out: list[tuple[str, int, int]] = []
    for trace, span, _, service, start, end in uniq:
        busy = 0
        lo = hi = -1
        for c_start, c_end in sorted(kids.get((trace, span), ())):
            c_start, c_end = max(c_start, start), min(c_end, end)
            if c_end <= c_start:
                continue
            if c_start > hi:
                busy += hi - lo
                lo, hi = c_start, c_end
            else:
                hi = max(hi, c_end)
        busy += hi - lo
        out.append((service, start, max(0, end - start - busy)))
    return out


def added_self_time(
    after: Iterable[tuple[str, int, int]], before: Iterable[tuple[str, int, int]]
) -> list[tuple[str, float]]:
    """Services by (mean self time after - mean before) x span count after, best first."""
    a: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    b: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for agg, rows in ((a, after), (b, before)):
        for service, _, self_ns in rows:
            agg[service][0] += self_ns
            agg[service][1] += 1
    scores: list[tuple[str, float]] = []
    for service, (total, n) in a.items():
        b_total, b_n = b.get(service, (0, 0))
        mean_before = b_total / b_n if b_n else 0.0
        scores.append((service, (total / n - mean_before) * n / 1e6))  # ms
    scores.sort(key=lambda x: (-x[1], x[0]))
    return scores


def split_half(selfs: list[tuple[str, int, int]]) -> tuple[list[Any], list[Any]]:
    """(earlier half, later half) of the spans, split at the midpoint of their start times."""
    if not selfs:
        return [], []
    starts = [x[1] for x in selfs]
    mid = (min(starts) + max(starts)) / 2
    return [x for x in selfs if x[1] < mid], [x for x in selfs if x[1] >= mid]


# -- the engine ------------------------------------------------------------------------------


def verdict_of(report: Any) -> str | None:
    """The report's verdict status, or None while the report has no verdict field."""
    v = getattr(report, "verdict", None)
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, dict):
        return v.get("status")
    status = getattr(v, "status", None)
    status = getattr(status, "value", status)  # an Enum member
    return None if status is None else str(status)


def engine_ranking(report: Any) -> list[dict[str, Any]]:
    """The distinct services of the root causes, in report order (first mention counts)."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for rc in report.root_causes:
        if rc.service in seen:
            continue
        seen.add(rc.service)
        out.append({"service": rc.service, "score": rc.score, "kind": rc.kind})
    return out


def rank_of(truth: str, services: Sequence[str]) -> int | None:
    return services.index(truth) + 1 if truth in services else None


def _run_engine(row: dict[str, Any], incident: Bundle, baseline: Bundle | None) -> None:
    started = time.perf_counter()
    report = diagnose(incident, baseline)
    row["seconds"] = round(time.perf_counter() - started, 3)
    ranking = engine_ranking(report)
    row["verdict"] = verdict_of(report)
    row["confidence"] = getattr(getattr(report, "verdict", None), "confidence", None)
    row["top"] = ranking[:TOP]
    row["rank"] = None
    if row["verdict"] != "no-incident":
        row["rank"] = rank_of(row["truth"], [r["service"] for r in ranking])


def _set_reference(row: dict[str, Any], ranking: list[tuple[str, float]]) -> None:
    row["ref_top"] = [{"service": s, "added_ms": round(v, 1)} for s, v in ranking[:TOP]]
    row["ref_rank"] = rank_of(row["truth"], [s for s, _ in ranking])


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


# -- tasks (run in the worker processes) -----------------------------------------------------

_BASE_SELF: dict[str, list[tuple[str, int, int]]] = {}


def _baseline_self(path: str) -> list[tuple[str, int, int]]:
    if path not in _BASE_SELF:
        _BASE_SELF[path] = self_times(csv_spans([path]))
    return _BASE_SELF[path]


def run_fault(fault: Fault, modes: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    common = {
        "source": "nezha",
        "system": fault.system,
        "day": fault.day,
        "time": fault.time,
        "pod": fault.pod,
        "truth": fault.truth,
        "kind": fault.kind,
        "minutes": [Path(p).name[:5] for p in fault.files],
        "pre_minute": fault.pre_minute,
    }
    ref: dict[str, list[tuple[str, float]]] = {}
    try:
        selfs = self_times(csv_spans(fault.files))
        services = {s for s, _, _ in selfs}
        common["truth_in_spans"] = fault.truth in services
        starts = [x[1] for x in selfs]
        common["pre_share"] = round(sum(x < fault.inject_ns for x in starts) / len(starts), 3)
        common["spans"] = len(selfs)
        ref["baseline"] = added_self_time(selfs, _baseline_self(fault.baseline))
        earlier, later = split_half(selfs)
        ref["export"] = added_self_time(later, earlier)
    except Exception as exc:  # noqa: BLE001 - a broken fault is a row, not a crash
        common["ref_error"] = _error(exc)
    for mode in modes:
        row: dict[str, Any] = {**common, "mode": mode, "rank": None, "ref_rank": None}
        if mode in ref:
            _set_reference(row, ref[mode])
        try:
            # Read afresh per run, so no run can see what another left in the bundle.
            incident = load(list(fault.files))
            baseline = load([fault.baseline]) if mode == "baseline" else None
            _run_engine(row, incident, baseline)
        except Exception as exc:  # noqa: BLE001
            row["error"] = _error(exc)
        rows.append(row)
    return rows


def run_synth(kind: str, seed: int, modes: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for mode in modes:
        row: dict[str, Any] = {
            "source": "synth",
            "system": "synth",
            "kind": kind,
            "seed": seed,
            "mode": mode,
            "rank": None,
            "ref_rank": None,
        }
        try:
            # Generated afresh per mode (cheap), for the same reason faults are re-read.
            scenario = generate(kind, seed=seed)
            row["truth"] = scenario.truth.service
            incident = scenario.bundle()
            baseline = scenario.baseline_bundle() if mode == "baseline" else None
            selfs = self_times(bundle_spans(incident))
            if baseline is not None:
                ranking = added_self_time(selfs, self_times(bundle_spans(baseline)))
            else:
                earlier, later = split_half(selfs)
                ranking = added_self_time(later, earlier)
            row["truth_in_spans"] = row["truth"] in {s for s, _, _ in selfs}
            _set_reference(row, ranking)
            _run_engine(row, incident, baseline)
        except Exception as exc:  # noqa: BLE001
            row["error"] = _error(exc)
        rows.append(row)
    return rows


def _by_trace_start(bundle: Bundle, cut_ns: float) -> tuple[Bundle, Bundle]:
    """(traces starting before cut_ns, the others), as two bundles of spans alone."""
    first: dict[str, int] = {}
    for s in bundle.spans:
        if s.start_ns < first.get(s.trace_id, 1 << 63):
            first[s.trace_id] = s.start_ns
    early, late = Bundle(), Bundle()
    for s in bundle.spans:
        (early if first[s.trace_id] < cut_ns else late).spans.append(s)
    finish(early)
    finish(late)
    return early, late


def _healthy_row(row: dict[str, Any], incident: Bundle, baseline: Bundle | None) -> None:
    started = time.perf_counter()
    report = diagnose(incident, baseline)
    row["seconds"] = round(time.perf_counter() - started, 3)
    row["verdict"] = verdict_of(report)
    row["top"] = engine_ranking(report)[:TOP]
    row["spans"] = len(incident.spans)


def run_healthy_nezha(system: str, path: str) -> list[dict[str, Any]]:
    rows = []
    for check in ("alone", "later half vs earlier half"):
        row: dict[str, Any] = {"source": "nezha", "system": system, "check": check}
        row["file"] = "/".join(Path(path).parts[-4:])
        try:
            bundle = load([path])
            if check == "alone":
                _healthy_row(row, bundle, None)
            else:
                starts = [s.start_ns for s in bundle.spans]
                early, late = _by_trace_start(bundle, (min(starts) + max(starts)) / 2)
                _healthy_row(row, late, early)
        except Exception as exc:  # noqa: BLE001
            row["error"] = _error(exc)
        rows.append(row)
    return rows


def run_healthy_synth(kind: str, seed: int) -> list[dict[str, Any]]:
    rows = []
    for check in ("fault-free export alone", "pre-onset traffic vs baseline"):
        row: dict[str, Any] = {"source": "synth", "kind": kind, "seed": seed, "check": check}
        try:
            scenario = generate(kind, seed=seed)
            row["background"] = scenario.truth.background
            if check == "fault-free export alone":
                _healthy_row(row, scenario.baseline_bundle(), None)
            else:
                pre, _ = _by_trace_start(scenario.bundle(), scenario.truth.onset_ns)
                pre.logs = [r for r in scenario.logs if (r.time_ns or 0) < scenario.truth.onset_ns]
                _healthy_row(row, pre, scenario.baseline_bundle())
        except Exception as exc:  # noqa: BLE001
            row["error"] = _error(exc)
        rows.append(row)
    return rows


def run_task(task: tuple[Any, ...]) -> tuple[str, str, list[dict[str, Any]]]:
    """One unit of work; returns (group, label, rows). Never raises."""
    what, *args = task
    label = " ".join(str(a) for a in args if not isinstance(a, (list, tuple)))
    try:
        if what == "fault":
            fault, modes = args
            label = f"{fault.system} {fault.time} {fault.kind} {fault.truth}"
            return what, label, run_fault(fault, modes)
        if what == "synth":
            return what, label, run_synth(*args)
        if what == "healthy-nezha":
            return what, f"healthy {args[0]}", run_healthy_nezha(*args)
        return what, f"healthy {label}", run_healthy_synth(*args)
    except Exception as exc:  # noqa: BLE001
        return what, label, [{"error": _error(exc), "task": label}]


# -- scoring and tables ----------------------------------------------------------------------


def ac(ranks: Sequence[int | None], k: int) -> float:
    return sum(r is not None and r <= k for r in ranks) / len(ranks) if ranks else 0.0


def scores(rows: Sequence[dict[str, Any]], key: str) -> tuple[float, float, float]:
    ranks = [r.get(key) for r in rows]
    return ac(ranks, 1), ac(ranks, 3), sum(ac(ranks, k) for k in range(1, 6)) / 5


def _md(header: Sequence[str], body: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def metric_table(rows: Sequence[dict[str, Any]], real: bool) -> str:
    """Per fault kind, then per system and overall, engine beside the reference."""
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    kinds = sorted(
        {r["kind"] for r in rows}, key=lambda k: (real, k) if real else SCENARIOS.index(k)
    )
    groups += [(k, [r for r in rows if r["kind"] == k]) for k in kinds]
    systems = sorted({r["system"] for r in rows})
    if len(systems) > 1:
        groups += [(f"*{s}*", [r for r in rows if r["system"] == s]) for s in systems]
    groups.append(("**overall**", list(rows)))
    if real:
        pre = [r for r in rows if r.get("pre_minute")]
        if 0 < len(pre) < len(rows):
            groups.append(("overall, with the pre-fault minute", pre))
    has_verdict = any(r.get("verdict") is not None for r in rows)
    body = []
    for name, group in groups:
        e1, e3, e5 = scores(group, "rank")
        r1, r3, r5 = scores(group, "ref_rank")
        no_call = sum(r.get("verdict") in NO_CALL for r in group) if has_verdict else "–"
        errors = sum("error" in r for r in group)
        body.append(
            [name, len(group), *(f"{x:.2f}" for x in (e1, e3, e5, r1, r3, r5)), no_call, errors]
        )
    header = ["fault kind", "n", "AC@1", "AC@3", "Avg@5", "ref AC@1", "ref AC@3", "ref Avg@5"]
    return _md([*header, "no call", "errors"], body)


def mode_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    notes = []
    verdicts = Counter(r.get("verdict") for r in rows if "error" not in r)
    if any(v is not None for v in verdicts):
        notes.append(
            "verdicts: " + ", ".join(f"{v or 'none'} {n}" for v, n in verdicts.most_common())
        )
    else:
        notes.append("verdicts: the report has no verdict field")
    wrong = Counter(r["top"][0]["service"] for r in rows if r.get("top") and r.get("rank") != 1)
    if wrong:
        notes.append(
            "blamed first when wrong: " + ", ".join(f"{s} ×{n}" for s, n in wrong.most_common(6))
        )
    empty = sum(1 for r in rows if "error" not in r and not r.get("top"))
    if empty:
        notes.append(f"no root cause at all: {empty}")
    ref_wrong = Counter(
        r["ref_top"][0]["service"] for r in rows if r.get("ref_top") and r.get("ref_rank") != 1
    )
    if ref_wrong:
        notes.append(
            "reference's first when wrong: "
            + ", ".join(f"{s} ×{n}" for s, n in ref_wrong.most_common(4))
        )
    kinds = _kinds_named(rows)
    if kinds:
        notes.append("kind named when the first guess is right (named / right): " + kinds)
    bands = _confidence_bands(rows)
    if bands:
        notes.append("confidence of the first guess (right / guesses): " + bands)
    seconds = [r["seconds"] for r in rows if "seconds" in r]
    if seconds:
        notes.append(
            f"diagnose time: mean {sum(seconds) / len(seconds):.2f}s, max {max(seconds):.2f}s"
        )
    for r in rows:
        if "ref_error" in r and "error" not in r:
            notes.append(
                f"REFERENCE ERROR {r.get('day', '')} {r.get('time', '')}: {r['ref_error']}"
            )
        if "error" in r:
            notes.append(
                f"ERROR {r.get('day', '')} {r.get('time', r.get('seed', ''))} "
                f"{r.get('kind', '')}: {r['error']}"
            )
    return notes


BANDS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.7), (0.7, 1.01))

# The report's kinds that name an injected fault's type: what the first actions follow
# (CPU and throttling for saturation, the path for network, the code for a behaviour).
NAMED_KIND = {
    "network_delay": ("network",),
    "cpu_contention": ("saturation",),
    "cpu_consumed": ("saturation",),
    "exception": ("behaviour", "error"),
    "return": ("behaviour", "error"),
}


def _kinds_named(rows: Sequence[dict[str, Any]]) -> str:
    """Per injected fault type, how often a right first guess also names its kind."""
    parts = []
    total = named_total = 0
    for kind, names in NAMED_KIND.items():
        right = [r for r in rows if r.get("kind") == kind and r.get("rank") == 1 and r["top"]]
        named = sum(1 for r in right if r["top"][0]["kind"] in names)
        if right:
            parts.append(f"{kind} {named}/{len(right)}")
            total, named_total = total + len(right), named_total + named
    return f"{named_total}/{total} ({', '.join(parts)})" if total else ""


def _confidence_bands(rows: Sequence[dict[str, Any]]) -> str:
    """How often the first guess was right per band of verdict confidence: the check that
    confidence reads as a probability (README, "Accuracy")."""
    parts = []
    for lo, hi in BANDS:
        band = [
            r
            for r in rows
            if r.get("top") and r.get("confidence") is not None and lo <= r["confidence"] < hi
        ]
        if band:
            right = sum(1 for r in band if r.get("rank") == 1)
            parts.append(f"{lo:.2f}-{min(hi, 1.0):.2f}: {right}/{len(band)}")
    return ", ".join(parts)


def _top_text(top: Sequence[dict[str, Any]], n: int = 3) -> str:
    return ", ".join(f"{t['service']} {t['score']:.2f} {t['kind']}" for t in top[:n]) or "—"


def _place(row: dict[str, Any]) -> str:
    if "error" in row:
        return "error"
    first = row["top"][0]["service"] if row.get("top") else "—"
    rank = row.get("rank") or "miss"
    verdict = row.get("verdict")
    return f"{rank} ({first}{', ' + verdict if verdict and verdict != 'incident' else ''})"


def per_fault_table(rows: Sequence[dict[str, Any]], modes: Sequence[str]) -> str:
    by_fault: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        by_fault[(r["day"], r["time"])][r["mode"]] = r
    body = []
    for (day, at), per_mode in sorted(by_fault.items()):
        any_row = next(iter(per_mode.values()))
        cells = [f"{day} {at}", any_row["system"], any_row["kind"], any_row["truth"]]
        cells.append(",".join(m[3:] for m in any_row["minutes"]))
        for m in modes:
            r = per_mode.get(m, {})
            cells += [_place(r) if r else "", r.get("ref_rank") or "miss"]
        body.append(cells)
    header = ["fault", "system", "kind", "truth", "minutes"]
    for m in modes:
        header += [f"{m}: rank (first)", f"{m}: ref rank"]
    return _md(header, body)


def healthy_tables(rows: Sequence[dict[str, Any]]) -> str:
    real = [r for r in rows if r.get("source") == "nezha"]
    synth = [r for r in rows if r.get("source") == "synth"]
    out = []
    if real:
        out.append(
            _md(
                ["system", "check", "spans", "verdict", "root causes (first 3)"],
                [
                    [
                        r["system"],
                        r["check"],
                        r.get("spans", ""),
                        r.get("verdict") or "(no field)",
                        r.get("error") or _top_text(r.get("top", [])),
                    ]
                    for r in real
                ],
            )
        )
    if synth:
        body = []
        for check in sorted({r["check"] for r in synth}):
            for kind in SCENARIOS:
                group = [r for r in synth if r["check"] == check and r["kind"] == kind]
                if not group:
                    continue
                named = [r for r in group if r.get("top") and r.get("verdict") != "no-incident"]
                verdicts = Counter(r.get("verdict") or "(no field)" for r in group)
                firsts = Counter(r["top"][0]["service"] for r in named)
                decoy = sum(r["top"][0]["service"] == r.get("background") for r in named)
                best = max((r["top"][0]["score"] for r in named), default=0.0)
                body.append(
                    [
                        check,
                        kind,
                        len(group),
                        len(named),
                        ", ".join(f"{v} {n}" for v, n in verdicts.most_common()),
                        f"{best:.2f}" if named else "—",
                        decoy,
                        ", ".join(f"{s} ×{n}" for s, n in firsts.most_common(2)) or "—",
                        sum("error" in r for r in group),
                    ]
                )
        header = ["check", "scenario", "n", "culprit named", "verdicts", "max top score"]
        header += ["first = background error source", "first causes", "errors"]
        out.append(_md(header, body))
    return "\n\n".join(out)


# -- the run --------------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the nezha/ directory")
    ap.add_argument("--modes", default=",".join(MODES), help="baseline,export (default both)")
    ap.add_argument("--synth-seeds", type=int, default=5, help="seeds 0..N-1 per scenario")
    ap.add_argument("--no-synth", action="store_true", help="skip the synthetic faults")
    ap.add_argument("--no-real", action="store_true", help="skip the Nezha faults")
    ap.add_argument("--no-healthy", action="store_true", help="skip the false-alarm checks")
    ap.add_argument("--per-fault", action="store_true", help="also print one row per fault")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--json", type=Path, help="write every row here")
    args = ap.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in args.modes if m not in MODES]
    if bad or not args.modes:
        ap.error(f"--modes takes a comma list of {', '.join(MODES)}")
    if not args.no_real and not (args.data / "rca_data").is_dir():
        ap.error(f"no Nezha data at {args.data} (give --data DIR, or --no-real)")
    return args


def _run_all(tasks: list[tuple[Any, ...]], workers: int) -> list[tuple[str, list[Any]]]:
    started = time.perf_counter()
    done: list[tuple[str, list[Any]]] = []

    def note(i: int, label: str) -> None:
        elapsed = time.perf_counter() - started
        print(f"  [{i}/{len(tasks)}] {elapsed:6.1f}s  {label}", file=sys.stderr, flush=True)

    if workers <= 1:
        for i, task in enumerate(tasks, 1):
            what, label, rows = run_task(task)
            done.append((what, rows))
            note(i, label)
        return done
    # A fresh worker every few tasks: what the reader freezes for the GC is not kept forever.
    with multiprocessing.Pool(workers, maxtasksperchild=8) as pool:
        for i, (what, label, rows) in enumerate(pool.imap_unordered(run_task, tasks), 1):
            done.append((what, rows))
            note(i, label)
    return done


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    started = time.perf_counter()
    tasks: list[tuple[Any, ...]] = []
    found: list[Fault] = []
    skipped: list[dict[str, str]] = []
    if not args.no_real:
        found, skipped = faults(args.data)
        tasks += [("fault", f, args.modes) for f in found]
        if not args.no_healthy:
            for system, baseline in SYSTEMS.values():
                tasks.append(("healthy-nezha", system, str(args.data / baseline)))
    seeds = range(0 if args.no_synth else args.synth_seeds)
    tasks += [("synth", k, s, args.modes) for k in SCENARIOS for s in seeds]
    if not args.no_healthy:
        tasks += [("healthy-synth", k, s) for k in SCENARIOS for s in seeds]
    print(f"{len(tasks)} tasks on {args.workers} worker(s)", file=sys.stderr)
    results = _run_all(tasks, args.workers)
    wall = time.perf_counter() - started

    mode_order = {m: i for i, m in enumerate(MODES)}
    real = sorted(
        (r for what, rows in results if what == "fault" for r in rows),
        key=lambda r: (r.get("day", ""), r.get("time", ""), mode_order.get(r.get("mode"), 9)),
    )
    synth = sorted(
        (r for what, rows in results if what == "synth" for r in rows),
        key=lambda r: (SCENARIOS.index(r["kind"]), r["seed"], mode_order.get(r["mode"], 9)),
    )
    healthy = [r for what, rows in results if what.startswith("healthy") for r in rows]
    healthy.sort(
        key=lambda r: (
            r.get("source") != "nezha",
            str(r.get("system", "")),
            SCENARIOS.index(r["kind"]) if r.get("kind") in SCENARIOS else -1,
            r.get("seed", 0),
            str(r.get("check", "")),
        )
    )

    from incident import __version__

    print(f"# Root-cause accuracy — incident {__version__}\n")
    print(f"python {platform.python_version()}, {args.workers} worker(s), wall time {wall:.1f}s")
    if not args.no_real:
        print(
            f"\n## Nezha (labelled real faults), data: {args.data}\n\n"
            f"{len(found) + len(skipped)} faults listed, {len(found)} scored, "
            f"{len(skipped)} skipped for a missing minute file.\n"
            "Incident export: trace minutes HH_MM, HH_MM+1, HH_MM+2 of the injection time "
            "HH:MM:SS, those present, as one bundle. File HH_MM holds the minute ending at about "
            "HH:MM:10 (pre-fault traffic); HH_MM+1 holds the injection and is required.\n"
            "baseline mode: against the day's fault-free minute (OnlineBoutique "
            f"{SYSTEMS['2022-08-22'][1]}, TrainTicket {SYSTEMS['2023-01-29'][1]}); "
            "export mode: no baseline.\n"
            "AC@k: truth among the first k distinct services of root_causes; no-incident, "
            "no cause or error = miss. ref = most added self time (vs the fault-free minute in "
            "baseline mode, later vs earlier half of the export in export mode)."
        )
        for mode in args.modes:
            rows = [r for r in real if r["mode"] == mode]
            if not rows:
                continue
            print(f"\n### mode: {mode}\n")
            print(metric_table(rows, real=True))
            print()
            for note in mode_notes(rows):
                print(f"- {note}")
        if args.per_fault and real:
            print("\n### per fault\n")
            print(per_fault_table(real, args.modes))
        if skipped:
            print("\n### skipped (no HH_MM+1 minute file)\n")
            print(
                _md(
                    ["day", "time", "kind", "pod", "minute files present"],
                    [[s["day"], s["time"], s["kind"], s["pod"], s["present"]] for s in skipped],
                )
            )
    if synth:
        print(
            f"\n## Synthetic faults: {len(SCENARIOS)} scenarios x seeds 0..{args.synth_seeds - 1}"
            "\n\nbaseline mode: with the scenario's fault-free baseline; export mode: without. "
            "Truth: scenario.truth.service (a database or external peer for some scenarios, "
            "which the span-based reference cannot name)."
        )
        for mode in args.modes:
            rows = [r for r in synth if r["mode"] == mode]
            print(f"\n### mode: {mode}\n")
            print(metric_table(rows, real=False))
            print()
            for note in mode_notes(rows):
                print(f"- {note}")
    if healthy:
        print("\n## Healthy checks (a culprit named here is a false alarm)\n")
        print(healthy_tables(healthy))
    print(f"\nwall time: {wall:.1f}s")

    if args.json:
        payload = {
            "meta": {
                "argv": sys.argv[1:] if argv is None else list(argv),
                "version": __version__,
                "python": platform.python_version(),
                "workers": args.workers,
                "wall_seconds": round(wall, 1),
                "data": str(args.data),
                "modes": args.modes,
                "synth_seeds": 0 if args.no_synth else args.synth_seeds,
            },
            "skipped": skipped,
            "faults": real,
            "synth": synth,
            "healthy": healthy,
            "fault_list": [asdict(f) for f in found],
        }
        args.json.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
        print(f"rows written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
