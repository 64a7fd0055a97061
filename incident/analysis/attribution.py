"""Latency attribution: which component each grown critical-path hop's added time is charged
to. Against a baseline, each hop's added time is weighed by how far it stands out against the
baseline's own variation (`variation`), by how much it grew for its size, by whether each of
its spans got slower (not just more of them) and, against a separate capture, by whether it
changed inside the incident window. A client->server gap is placed on the side of the edge its
neighbours point to, or on both ends when nothing separates them. Retry backoff a caller
waited out moves from the caller to the callee it retried."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from incident.analysis import wording
from incident.analysis.behaviour import self_shift
from incident.analysis.candidate import Candidate, get_or_add
from incident.analysis.config import AnalysisConfig
from incident.analysis.evidence import MIN_EVIDENCE
from incident.analysis.semconv import peer_name
from incident.analysis.signals import WindowStats
from incident.analysis.variation import step_z, weight, welch_z

# An edge's other calls count as slowed alike when they grew this much and stand out.
ALIKE_GROWTH = 0.3
ALIKE_Z = 3.0
ALIKE_SIZE = 0.1

HopKey = tuple[str, str, str]


@dataclass(frozen=True)
class HopShift:
    """One critical-path hop that grew: ms per request added, how many standard errors that
    is against the baseline's variation, whether it stepped up inside the incident window,
    its baseline ms, and the weights derived from these."""

    added: float
    z: float
    before: float
    step: float = 0.0
    # How far the shift stands out against normal variation (0..1): sizes the slowdown.
    significance: float = 1.0
    # Significance, times how much the hop grew relative to its size and whether it changed
    # during the incident window: what the ranking weighs.
    weight: float = 1.0
    # The share of the incident's requests whose critical path holds the hop (0..1].
    reach: float = 1.0

    @property
    def local(self) -> float:
        """Weighted ms added to each request that passes through the hop: a slowdown of
        one kind of request is diluted in the mean over all of them, not for its users."""
        return self.added * self.weight / max(self.reach, 1e-9)


# A hop that grew this many times over counts fully; one that grew 30% about a quarter.
GROWTH_FULL = 3.0
# A hop that was already as high at the start of the incident window as at its end, while
# other hops stepped up inside it, predates the incident: it keeps this much weight.
PREDATES = 0.4


def _growth_factor(added: float, before: float) -> float:
    if before <= 0:
        return 1.0
    return min(1.0, math.log((before + added) / before) / math.log(GROWTH_FULL))


def _shifts(
    inc: WindowStats, base: WindowStats | None, keys: list[HopKey]
) -> dict[HopKey, HopShift]:
    """The hops that grew, each weighed by significance, relative growth and onset."""
    out: dict[HopKey, HopShift] = {}
    if base is None:
        for key in keys:
            d = inc.mean_path_ms(key)
            if d > 0:
                out[key] = HopShift(d, math.inf, 0.0)
        return out
    # The onset inside the incident window only says something when the baseline is a
    # separate capture: split from the same export, the window starts at the change.
    separate = base.table is not inc.table
    raw: list[tuple[HopKey, float, float, float, float, float]] = []
    for key in keys:
        before = base.mean_path_ms(key)
        d = inc.mean_path_ms(key) - before
        if d <= 0:
            continue
        z = hop_z(inc, base, key)
        step = step_z(inc.path_m.get(key), inc.sampled, inc.chunk_n) if separate else 0.0
        # Per request, a hop grows when each of its spans takes longer or when requests
        # make more of them (another load mix). Only the first is a slowdown.
        per_item = 1.0
        if key[0] == "edge":
            # A rarely used edge is noisy per request but not per call: each call's gap
            # tells as well whether the edge got slower.
            ratio, z_call, step_call = _gap_shift(inc, base, (key[1], key[2]))
            z, step = max(z, z_call), max(step, step_call if separate else 0.0)
            per_item = _slower_each(ratio, z_call)
        elif key[0] == "self":
            ratio, z_span, _ = self_shift(inc.shape, base.shape, (key[1], key[2]))
            per_item = _slower_each(ratio, z_span)
        raw.append((key, d, z, before, step, per_item))
    onset = any(weight(z) >= 0.5 and weight(step) >= 0.5 for _, _, z, _, step, _ in raw)
    for key, d, z, before, step, per_item in raw:
        sig = weight(z)
        w = sig * _growth_factor(d, before) * per_item
        if onset:
            w *= PREDATES + (1.0 - PREDATES) * weight(step)
        reach = inc.path_n.get(key, 0) / max(1, inc.sampled)
        out[key] = HopShift(d, z, before, step, sig, w, reach or 1.0)
    return out


# A hop that grew per request while each of its spans (or calls) took no longer grew with
# the load mix: it keeps this much weight.
MIX_ONLY = 0.3


def _slower_each(ratio: float, z: float) -> float:
    """1 when each span (or call) of the hop clearly takes longer, down to MIX_ONLY when
    none does; 1 when there were too few to tell (ratio 1, z 0)."""
    if ratio == 1.0 and z == 0.0:
        return 1.0
    slower = weight(z) * min(1.0, max(0.0, math.log(max(ratio, 1e-9)) / math.log(1.5)))
    return MIX_ONLY + (1.0 - MIX_ONLY) * slower


def attribute_latency(
    cands: dict[str, Candidate], inc: WindowStats, base: WindowStats | None
) -> tuple[dict[HopKey, float], dict[HopKey, HopShift]]:
    added: dict[HopKey, float] = {}
    # Sorted: candidate order feeds float sums and ties, which must not follow hash order.
    keys = sorted(set(inc.path) | (set(base.path) if base else set()))
    for key in keys:
        added[key] = inc.mean_path_ms(key) - (base.mean_path_ms(key) if base else 0.0)
    grown = _shifts(inc, base, keys)
    for key, g in grown.items():
        what, a, b = key
        d = g.added
        if what == "self":
            c = get_or_add(cands, a)
            c.lat_self += d
            c.lat_sig += d * g.weight
            c.lat_before += g.before
            c.lat_z = _max_z(c, g.z)
            lead = inc.lead.get(key, 0) / max(1, inc.sampled) / 1e6 - (
                base.lead.get(key, 0) / max(1, base.sampled) / 1e6 if base else 0.0
            )
            c.lat_lead += min(max(lead, 0.0), d)
            c.lat_local = max(c.lat_local, g.local)
        elif what == "edge":
            get_or_add(cands, a).lat_net_out += d
        else:
            c = get_or_add(cands, b, inc.peer_kind.get(b, "external"))
            c.lat_peer += d
            c.lat_sig += d * g.weight
            c.lat_before += g.before
            c.lat_z = _max_z(c, g.z)
            c.lat_local = max(c.lat_local, g.local)
    _charge_edges(cands, grown, set(keys), compared=base is not None)
    return added, grown


def hop_z(inc: WindowStats, base: WindowStats, key: HopKey) -> float:
    """Standard errors by which a hop's per-request critical-path ms grew, against the
    per-trace spread of both windows and the baseline's drift between its time chunks."""
    before = base.mean_path_ms(key)
    return welch_z(
        inc.path_m.get(key),
        inc.sampled,
        base.path_m.get(key),
        base.sampled,
        base.chunk_n,
        # A hundredth of a millisecond or 1% of the hop: below that no clock is believable.
        floor=max(0.01, 0.01 * before),
        inc_chunks=inc.chunk_n,
    )


def _gap_shift(
    inc: WindowStats, base: WindowStats, edge: tuple[str, str]
) -> tuple[float, float, float]:
    """(ratio of the geometric-mean gap (ms + 1), z, step inside the incident window) of
    the gap per call on one edge; (1, 0, 0) with too few calls."""
    a, b = inc.shape.gaps.get(edge), base.shape.gaps.get(edge)
    if a is None or b is None or a.n < MIN_EVIDENCE or b.n < MIN_EVIDENCE:
        return 1.0, 0.0, 0.0
    # Log scale (see `structure`): a floor of 0.01 is a 1% change.
    z = welch_z(a.m, a.n, b.m, b.n, b.chunk_n, floor=0.01, inc_chunks=a.chunk_n)
    ratio = math.exp(a.m.total / a.n - b.m.total / b.n)
    return ratio, z, step_z(a.m, a.n, a.chunk_n)


def _max_z(c: Candidate, z: float) -> float:
    """The larger of a candidate's hop z so far and `z` (inf means "not compared")."""
    return z if c.lat_z == math.inf else max(c.lat_z, z)


def _alike(grown: dict[HopKey, HopShift], key: HopKey, against: float) -> bool:
    """Did this hop slow down clearly and comparably: a real rise that stands out against
    its variation, of a size that the same cause would add (a tenth of `against`, the
    added ms of the edge being judged, at least: a 0.1 ms wobble does not explain 150 ms)?"""
    g = grown.get(key)
    if g is None:
        return False
    rise = g.added / g.before if g.before > 0 else math.inf
    return rise >= ALIKE_GROWTH and g.z >= ALIKE_Z and g.added >= ALIKE_SIZE * against


def _charge_edges(
    cands: dict[str, Candidate],
    grown: dict[HopKey, HopShift],
    keys: set[HopKey],
    *,
    compared: bool,
) -> None:
    """Place each grown client->server gap on one end of its edge (see `_edge_side`); when
    nothing separates the ends the callee is charged and the caller ranks right next to it."""
    for key, g in sorted(grown.items()):
        what, a, b = key
        if what != "edge":
            continue
        caller, callee = get_or_add(cands, a), get_or_add(cands, b)
        if not compared:
            # Nothing grew against anything: the callee holds its gap, the caller half of it.
            callee.lat_net += g.added
            callee.lat_sig += g.added
            caller.lat_hedge += 0.5 * g.added
            continue
        side, doubt = _edge_side(grown, keys, a, b, g.added)
        if side == "caller":
            caller.lat_net_own += g.added
            caller.lat_sig += g.added * g.weight
            caller.lat_before += g.before
            caller.lat_z = _max_z(caller, g.z)
            caller.lat_local = max(caller.lat_local, g.local)
            continue
        callee.lat_net += g.added
        callee.lat_sig += g.added * g.weight
        callee.lat_before += g.before
        callee.lat_z = _max_z(callee, g.z)
        callee.lat_local = max(callee.lat_local, g.local)
        if doubt is not None:
            # Just below the callee's credit: adjacent in the ranking, the callee first.
            caller.lat_hedge += 0.95 * g.added * g.weight
            note = wording.edge_note(a, b, doubt)
            if caller.edge_peer is None or g.added > _edge_size(grown, caller, a):
                caller.edge_peer, caller.edge_note = b, note
            if callee.edge_peer is None or g.added > _edge_size(grown, callee, a, into=True):
                callee.edge_peer, callee.edge_note = a, note


def _edge_side(
    grown: dict[HopKey, HopShift], keys: set[HopKey], a: str, b: str, added: float
) -> tuple[Literal["caller", "callee"], wording.EdgeDoubt | None]:
    """Which end of the edge a -> b its added gap sits on, and why it could be either (None
    when one end is clear; the callee is then named for "either").

    The gap is between the caller's client span and the callee's server span: a slow callee
    host (or the network into it) delays every caller's calls to it, a slow caller (CPU
    starved, its own network) delays its calls to every callee. The caller's other callees
    and the callee's other callers, among the hops seen in either window, tell which."""
    out = [k for k in keys if k[0] in ("edge", "peer") and k[1] == a and k[2] != b]
    into = [k for k in keys if k[0] == "edge" and k[2] == b and k[1] != a]
    caller_alike = sum(_alike(grown, k, added) for k in out) / len(out) if out else None
    callee_alike = sum(_alike(grown, k, added) for k in into) / len(into) if into else None
    caller_side = caller_alike is not None and caller_alike >= 0.5
    callee_side = callee_alike is not None and callee_alike >= 0.5
    if caller_side and not callee_side:
        return "caller", None
    if callee_side and not caller_side:
        return "callee", None
    if not caller_side and caller_alike is not None and not callee_side:
        # The caller's other calls are fine: the delay is specific to this callee.
        return "callee", None
    # Including: the callee's other callers look fine but the caller calls nothing else to
    # confirm its own side (too few of those calls to see a delay on them looks the same as
    # none): the evidence does not pick an end.
    if caller_side and callee_side:
        return "callee", "both slowed"
    if caller_alike is None and callee_alike is None:
        return "callee", "nothing to compare"
    return "callee", "no side told"


def _edge_size(
    grown: dict[HopKey, HopShift], c: Candidate, name: str, *, into: bool = False
) -> float:
    """The added ms of the ambiguous edge `c` already names (from `c`, or into it)."""
    peer = c.edge_peer
    if not peer:
        return 0.0
    g = grown.get(("edge", peer, c.component) if into else ("edge", name, peer))
    return g.added if g else 0.0


def _retry_waits(ws: WindowStats, max_path_traces: int) -> dict[tuple[str, str], float]:
    """Mean ms per request that a caller sat idle between a failed call and its next attempt
    at the same callee (retry backoff), over the traces whose critical paths were sampled.
    That idle time is the caller's self time on the critical path, yet its own work did not
    grow: the failures it retries did."""
    table = ws.table
    start, end, flag, parent, svc = table.start, table.end, table.flag, table.parent, table.service
    has_child, spans = table.has_child, table.spans
    waits: dict[tuple[str, str], int] = {}
    step = max(1, len(ws.traces) // max(1, max_path_traces))

    def target(i: int, kids: dict[int, list[int]]) -> str | None:
        if has_child[i]:
            return next((svc[c] for c in kids.get(i, ()) if svc[c] != svc[i]), None)
        return peer_name(spans[i])

    for t in ws.traces[::step]:
        failed = [
            i for i in table.members[t] if flag[i] and parent[i] >= 0 and svc[parent[i]] == svc[i]
        ]
        if not failed:
            continue
        kids = table.children_of(t)
        for i in failed:
            callee = target(i, kids)
            if callee is None or callee == svc[i]:
                continue
            siblings = kids[parent[i]]
            later = [
                j
                for j in siblings
                if j != i and start[j] >= end[i] and svc[j] == svc[i] and target(j, kids) == callee
            ]
            if not later:
                continue
            lo, hi = end[i], min(start[j] for j in later)
            # Only the idle part: another call running meanwhile is not waiting.
            busy = sorted(
                (max(lo, start[j]), min(hi, end[j]))
                for j in siblings
                if start[j] < hi and end[j] > lo
            )
            idle, cur = 0, lo
            for s_, e_ in busy:
                if s_ > cur:
                    idle += s_ - cur
                cur = max(cur, e_)
            idle += max(0, hi - cur)
            if idle > 0:
                key = (svc[i], callee)
                waits[key] = waits.get(key, 0) + idle
    n = max(1, ws.sampled)
    return {k: v / n / 1e6 for k, v in waits.items()}


def charge_retries(
    cands: dict[str, Candidate], inc: WindowStats, base: WindowStats | None, config: AnalysisConfig
) -> None:
    """Move added retry backoff from the caller's self time to the callee it retried, so the
    same added time is not claimed by the caller as "got slower" and by the callee's failures."""
    now = _retry_waits(inc, config.max_path_traces)
    before = _retry_waits(base, config.max_path_traces) if base else {}
    for (caller, callee), ms in sorted(now.items()):
        c = cands.get(caller)
        grew = ms - before.get((caller, callee), 0.0)
        if c is None or grew <= 0 or c.lat_self <= 0:
            continue
        moved = min(grew, c.lat_self)
        c.lat_self -= moved
        c.lat_lead = min(c.lat_lead, c.lat_self)
        # The caller's baseline self time stays with the caller's remaining growth.
        callee_c = get_or_add(cands, callee, inc.peer_kind.get(callee, "service"))
        callee_c.lat_retry += moved
        callee_c.lat_before += before.get((caller, callee), 0.0)
