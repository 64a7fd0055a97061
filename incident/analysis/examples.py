"""The spans that illustrate a cause in the report's evidence, each with its line: failing
spans where it fails; where its time is spent on the way into it, calls to it whose own span
took a small part of them; else its slowest spans. And how a span is named in evidence.
"""

from __future__ import annotations

from incident.analysis.assess import Assessment
from incident.analysis.candidate import Candidate
from incident.analysis.semconv import calls_peer, error_text, peer_name
from incident.analysis.trees import SpanTable


def ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def span_ref(table: SpanTable, i: int) -> str:
    s = table.spans[i]
    return f"{s.trace_id}/{s.span_id}"


def examples(a: Assessment, c: Candidate) -> list[tuple[int, str]]:
    """Two example spans of a cause, each with its line: failing ones where it fails; where
    its time is spent on the way into it, calls to it whose own span took a small part of
    them; else its slowest spans."""
    table = a.inc.table
    if not c.examples and c.waits_at_door:
        door = _door(a, c)[:2]
        if door:
            return [
                (
                    i,
                    f"{table.spans[i].service} {table.spans[i].name} -> {c.component}: "
                    f"{ms(table.end[i] - table.start[i])} ms, of which "
                    f"{ms(table.end[j] - table.start[j])} ms in {c.component}'s own span",
                )
                for i, j in door
            ]
    out = []
    for i in c.examples[:2] or _slowest(a, c)[:2]:
        s, took = table.spans[i], ms(table.end[i] - table.start[i])
        # A span that did not fail is an example of slowness, whatever status it carries.
        said = (error_text(s) if table.flag[i] else "") or "slow"
        out.append((i, f"{s.service} {s.name}: {said} ({took} ms)"))
    return out


def _door(a: Assessment, c: Candidate) -> list[tuple[int, int]]:
    """(caller's span, the component's span under it) pairs with the widest gap between
    them, from an even sample of the incident's traces."""
    table = a.inc.table
    parent, service, start, end = table.parent, table.service, table.start, table.end
    best: list[tuple[int, int, int]] = []
    for t in _sampled(a):
        for j in table.members[t]:
            i = parent[j]
            if i >= 0 and service[j] == c.component and service[i] != c.component:
                best.append(((end[i] - start[i]) - (end[j] - start[j]), i, j))
    best.sort(reverse=True)
    return [(i, j) for gap, i, j in best[:2] if gap > 0]


def _slowest(a: Assessment, c: Candidate) -> list[int]:
    """A slow span of the component, for latency causes without failing examples."""
    table = a.inc.table
    best: list[tuple[int, int]] = []
    for t in _sampled(a):
        for i in table.members[t]:
            s = table.spans[i]
            if s.service == c.component or (
                calls_peer(s) and not table.has_child[i] and peer_name(s) == c.component
            ):
                best.append((table.end[i] - table.start[i], i))
    best.sort(reverse=True)
    return [i for _, i in best[:2]]


def _sampled(a: Assessment) -> list[int]:
    """An even sample of about 300 of the incident's traces, where examples are looked for."""
    return a.inc.traces[:: max(1, len(a.inc.traces) // 300)]
