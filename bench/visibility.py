"""How visible each code-level fault of the development half is in its own traces.

For every `exception` and `return` fault that `bench/accuracy.py` scores, the fault's export
is cut at the injection instant and the two parts compared, with nothing of the engine in
between:

- the injected service: each of its operations per request (per trace root), the median
  duration of each, and the calls each operation makes per invocation;
- its callers (the operations in other services whose spans lead into it): the calls each
  makes per invocation and its median duration.

Each change is a factor; the largest of each side is printed, with what it was. A fault
whose both sides stay within x1.5 changed nothing a trace-based method can read: ranking
its service first would be a guess. Counts under 6 in both parts, and exports with fewer
than 20 requests before the injection, are left out.

The same measure of its own change is then taken for every service of the export, and the
injected service's place among them printed: where other services changed more (the load
generator's request mix moves from minute to minute), even a method told the injection
instant cannot single it out by what it changed.

    python bench/visibility.py [--data DIR] [--within 1.5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from accuracy import DEFAULT_DATA, Fault, faults  # noqa: E402

from incident.analysis.trees import SpanTable, build  # noqa: E402
from incident.ingest import load  # noqa: E402

MIN_COUNT = 6
MIN_REQUESTS = 20
Change = tuple[float, str]


def _factor(before: float, after: float) -> float:
    return abs(math.log((after + 1e-3) / (before + 1e-3)))


def _largest(changes: Iterable[Change]) -> Change:
    return max(changes, default=(0.0, "nothing counted"))


def _own(t: SpanTable, names: list[str], truth: str, side: Callable[[int], str]) -> Change:
    """The injected service's largest change: operations per request, median durations and
    calls per invocation."""
    requests = Counter(side(r) for r in t.roots)
    durations: dict[str, dict[str, list[float]]] = {
        "pre": defaultdict(list),
        "post": defaultdict(list),
    }
    calls: dict[str, Counter[tuple[str, str, str]]] = {"pre": Counter(), "post": Counter()}
    for i, service in enumerate(t.service):
        if service == truth:
            durations[side(i)][names[i]].append((t.end[i] - t.start[i]) / 1e6)
        p = t.parent[i]
        if p >= 0 and t.service[p] == truth:
            calls[side(p)][(names[p], service, names[i])] += 1
    changes: list[Change] = []
    for op in set(durations["pre"]) | set(durations["post"]):
        a, c = durations["pre"].get(op, []), durations["post"].get(op, [])
        if len(a) + len(c) < MIN_COUNT:
            continue
        rate_a, rate_c = len(a) / requests["pre"], len(c) / max(1, requests["post"])
        changes.append((_factor(rate_a, rate_c), f"{op} per request {rate_a:.2f} -> {rate_c:.2f}"))
        if a and c:
            ma, mc = statistics.median(a), statistics.median(c)
            changes.append((_factor(ma, mc), f"{op} median {ma:.1f} -> {mc:.1f} ms"))
    invocations = {s: Counter({op: len(v) for op, v in durations[s].items()}) for s in durations}
    for key in set(calls["pre"]) | set(calls["post"]):
        if calls["pre"][key] + calls["post"][key] < MIN_COUNT:
            continue
        op = key[0]
        was = calls["pre"][key] / max(1, invocations["pre"][op])
        now = calls["post"][key] / max(1, invocations["post"][op])
        what = f"{op} -> {key[1]} {key[2]} per call {was:.2f} -> {now:.2f}"
        changes.append((_factor(was, now), what))
    return _largest(changes)


def _callers(t: SpanTable, names: list[str], truth: str, side: Callable[[int], str]) -> Change:
    """The callers' largest change: the calls each makes per invocation, its median."""
    leading: set[tuple[str, str]] = set()
    for i, service in enumerate(t.service):
        if service != truth:
            continue
        p, hops = t.parent[i], 0
        while p >= 0 and hops < 3:
            if t.service[p] != truth:
                leading.add((t.service[p], names[p]))
                break
            p, hops = t.parent[p], hops + 1
    invocations: dict[str, Counter[tuple[str, str]]] = {"pre": Counter(), "post": Counter()}
    durations: dict[str, dict[tuple[str, str], list[float]]] = {
        "pre": defaultdict(list),
        "post": defaultdict(list),
    }
    kids: dict[str, Counter[tuple[tuple[str, str], str, str]]] = {
        "pre": Counter(),
        "post": Counter(),
    }
    for i, service in enumerate(t.service):
        if (service, names[i]) in leading:
            invocations[side(i)][(service, names[i])] += 1
            durations[side(i)][(service, names[i])].append((t.end[i] - t.start[i]) / 1e6)
        p = t.parent[i]
        if p >= 0 and (t.service[p], names[p]) in leading:
            kids[side(p)][((t.service[p], names[p]), service, names[i])] += 1
    changes: list[Change] = []
    for key in set(kids["pre"]) | set(kids["post"]):
        op = key[0]
        if min(invocations["pre"][op], invocations["post"][op]) < 5:
            continue
        if kids["pre"][key] + kids["post"][key] < MIN_COUNT:
            continue
        was = kids["pre"][key] / invocations["pre"][op]
        now = kids["post"][key] / invocations["post"][op]
        what = f"{op[0]} {op[1]} -> {key[1]} {key[2]} per call {was:.2f} -> {now:.2f}"
        changes.append((_factor(was, now), what))
    for op in leading:
        a, c = durations["pre"].get(op, []), durations["post"].get(op, [])
        if len(a) >= 5 and len(c) >= 5:
            ma, mc = statistics.median(a), statistics.median(c)
            changes.append((_factor(ma, mc), f"{op[0]} {op[1]} median {ma:.1f} -> {mc:.1f} ms"))
    return _largest(changes)


def _place(
    t: SpanTable, names: list[str], truth: str, side: Callable[[int], str], own: float
) -> tuple[int, int]:
    """(the place of `truth`'s own largest change `own` among every service's, 1 = none
    changed more; how many services)."""
    others = [_own(t, names, s, side)[0] for s in set(t.service) - {truth}]
    return 1 + sum(1 for factor in others if factor > own), len(others) + 1


def visibility(fault: Fault) -> tuple[Change, Change, int, int] | None:
    """(the injected service's largest change, its callers', its place among all services
    by their own largest change, how many services), or None with too little traffic
    before the injection."""
    table = build(load(list(fault.files)).spans)
    names = [s.name for s in table.spans]

    def side(i: int) -> str:
        return "pre" if table.start[i] < fault.inject_ns else "post"

    if sum(1 for r in table.roots if side(r) == "pre") < MIN_REQUESTS:
        return None
    own = _own(table, names, fault.truth, side)
    place, services = _place(table, names, fault.truth, side, own[0])
    return own, _callers(table, names, fault.truth, side), place, services


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--within", type=float, default=1.5, help="a change this small or less")
    args = parser.parse_args()
    bound = math.log(args.within)
    found, _ = faults(args.data)
    code_level = [f for f in found if f.kind in ("exception", "return")]
    print(
        "| fault | kind | injected service | own largest change | callers' largest change "
        "| its place by own change |"
    )
    print("|---|---|---|---|---|---|")
    unseen: list[Fault] = []
    places: list[int] = []
    for fault in code_level:
        seen = visibility(fault)
        label = f"{fault.system} {fault.time}"
        if seen is None:
            print(f"| {label} | {fault.kind} | {fault.truth} | too little traffic before | |")
            continue
        (own, own_what), (up, up_what), place, services = seen
        places.append(place)
        print(
            f"| {label} | {fault.kind} | {fault.truth} | x{math.exp(own):.2f} ({own_what}) "
            f"| x{math.exp(up):.2f} ({up_what}) | {place} of {services} |"
        )
        if own <= bound and up <= bound:
            unseen.append(fault)
    print()
    print(
        f"{len(unseen)} of {len(code_level)} code-level faults change by x{args.within} or less "
        f"on both sides: {', '.join(f'{f.system} {f.time} {f.truth}' for f in unseen) or 'none'}"
    )
    scored = len(found)
    print(f"AC@1 from signal is then at most {scored - len(unseen)} of {scored}")
    first, top3 = sum(1 for p in places if p == 1), sum(1 for p in places if p <= 3)
    print(
        f"By its own largest change, cut at the injection instant, the injected service is "
        f"first among the export's services in {first} of {len(places)} code-level faults "
        f"and among the first three in {top3}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
