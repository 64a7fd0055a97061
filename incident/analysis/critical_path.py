"""Critical path (Jaeger UI's last-finishing-child walk-back) and self time of the spans of one
trace, over the corrected start/end columns of a `SpanTable`."""

from __future__ import annotations

from incident.analysis.trees import SpanTable

# One stretch of the critical path: (span index, nanoseconds on the path, of which "lead":
# the time between the span's start and its first critical child, where pool waits hide).
Segment = tuple[int, int, int]


def _clipped_children(
    kids: list[int], start: list[int], end: list[int], lo: int, hi: int
) -> list[tuple[int, int, int]]:
    """Children clipped to the parent interval, latest-finishing first."""
    out = []
    for c in kids:
        s, e = start[c], end[c]
        if s >= hi or e <= lo:
            continue  # entirely outside the parent: not on its critical path
        out.append((e if e < hi else hi, s if s > lo else lo, c))
    out.sort(reverse=True)
    return out


def critical_path(table: SpanTable, root: int, children: dict[int, list[int]]) -> list[Segment]:
    """Walk back from the root's end: take the child that finishes last before the cursor,
    descend into it, continue from its start. Iterative, so deep traces cannot overflow."""
    start, end = table.start, table.end
    segments: list[Segment] = []
    # Frame: span, its clipped start, cursor, its clipped children, position, first-child flag.
    lo, hi = start[root], end[root]
    stack: list[tuple[int, int, int, list[tuple[int, int, int]], int]] = [
        (root, lo, hi, _clipped_children(children.get(root, []), start, end, lo, hi), 0)
    ]
    own: dict[int, int] = {}
    while stack:
        span, lo, cursor, kids, pos = stack.pop()
        descended = False
        while pos < len(kids):
            ke, ks, c = kids[pos]
            pos += 1
            if ke <= cursor:
                own[span] = own.get(span, 0) + (cursor - ke)
                # Resume this span at the child's start once the child is done.
                stack.append((span, lo, ks, kids, pos))
                stack.append(
                    (c, ks, ke, _clipped_children(children.get(c, []), start, end, ks, ke), 0)
                )
                descended = True
                break
        if not descended:
            lead = cursor - lo if cursor > lo else 0
            total = own.pop(span, 0) + lead
            segments.append((span, total, lead if kids else 0))
    return segments


def self_times(
    table: SpanTable, spans: list[int], children: dict[int, list[int]]
) -> dict[int, int]:
    """Duration minus the union of the children's intervals clipped to the span."""
    start, end = table.start, table.end
    out: dict[int, int] = {}
    for i in spans:
        lo, hi = start[i], end[i]
        kids = children.get(i)
        if not kids:
            out[i] = hi - lo
            continue
        covered = 0
        cur_s = cur_e = -1
        for s, e in sorted((start[c], end[c]) for c in kids):
            s = max(s, lo)
            e = min(e, hi)
            if e <= s:
                continue
            if s > cur_e:
                if cur_e > cur_s:
                    covered += cur_e - cur_s
                cur_s, cur_e = s, e
            elif e > cur_e:
                cur_e = e
        if cur_e > cur_s:
            covered += cur_e - cur_s
        out[i] = hi - lo - covered
    return out
