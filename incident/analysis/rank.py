"""Root-cause ranking: one scoring scheme over every component (service or uninstrumented
peer) that combines the added latency it explains on critical paths, the new errors whose
deepest failing span points at it and how what it does changed (`structure`), then names the
kind, instance or version.

Against a baseline, each hop's added time is weighed by how far it stands out against the
baseline's own variation (`variation`), by how much it grew for its size, by whether each of
its spans got slower (not just more of them) and, against a separate capture, by whether it
changed inside the incident window. A client->server gap is placed on the side of the edge its
neighbours point to, or on both ends when nothing separates them."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from incident.analysis.classify import failure_category
from incident.analysis.config import AnalysisConfig
from incident.analysis.evidence import (
    MAJOR_LATENCY_SHARE,
    MIN_EVIDENCE,
    MIN_LATENCY_GROWTH,
    MIN_LATENCY_SHARE,
    ms_text,
    plural,
)
from incident.analysis.semconv import ERROR, Category, Origin, classify, peer_name
from incident.analysis.signals import OriginErrors, WindowStats
from incident.analysis.structure import (
    STRUCT_Z,
    UNIFORM_RATIO,
    UNIFORM_SHARE,
    Behaviour,
    behaviour,
    self_shift,
    uniform_slowdown,
)
from incident.analysis.trees import SpanTable
from incident.analysis.variation import step_z, weight, welch_z
from incident.model import SpanKind


@dataclass
class Candidate:
    component: str
    ctype: str = "service"  # service|db|cache|external
    lat_self: float = 0.0
    lat_lead: float = 0.0
    lat_net: float = 0.0  # added edge gap on calls into this component
    lat_net_out: float = 0.0  # added edge gap on calls this component makes
    lat_peer: float = 0.0
    # Added time its callers spent waiting to retry calls to it that failed (backoff): the
    # callers' own work did not grow, the retries of this component's failures did.
    lat_retry: float = 0.0
    # Baseline critical-path ms of the hops charged to it that grew: how big they were before.
    lat_before: float = 0.0
    # Incident critical-path spans behind its latency (a claim of change needs enough).
    lat_samples: int = 0
    err_new: float = 0.0
    user_new: float = 0.0
    errors: int = 0
    baseline_errors: int = 0
    timeouts: int = 0
    absorbed: float = 0.0  # share of its failures that the entry point absorbed
    score: float = 0.0
    lat_score: float = 0.0
    err_score: float = 0.0
    kind: str = "latency"
    category: Category = "transient"
    origin: Origin = "infrastructure"
    instance: str | None = None
    version: str | None = None
    operation: str | None = None
    examples: list[int] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    symptom_of: str | None = None
    spread: float = 1.0  # failing spans each of its failures accounts for, on average
    unreachable: int = 0  # calls to it that never connected
    callers: list[str] = field(default_factory=list)
    first_ns: int | None = None
    first_span: int = -1
    # Share of the added request latency it explains (of all request time without a baseline).
    lat_share: float = 0.0
    # Its failures happen while consuming messages: no caller waits for them or absorbs them.
    consumer: bool = False
    # Ranked against a baseline: only then may its wording claim a change.
    compared: bool = False
    # The measured fact behind an instance or version claim, for the summary.
    concentration: str = ""
    # For a network cause seen from the caller side: the callee its slow calls go to.
    net_callee: str | None = None
    # How far its largest grown hop stands out against the baseline's own variation, in
    # standard errors (inf when nothing was compared); see `variation`.
    lat_z: float = math.inf
    # Its own added time weighted by how far each hop stands out: what the ranking uses, so a
    # noisy hop's jitter does not outrank a real shift.
    lat_sig: float = 0.0
    # Added gap on its own outgoing calls judged to be its side of the edge (its other
    # callees slowed alike, their other callers did not): counted as its own time.
    lat_net_own: float = 0.0
    # Credit for outgoing-call gaps that could sit on either end: it ranks next to the callee.
    lat_hedge: float = 0.0
    # The other end of an edge whose delay could not be placed on one side, and why.
    edge_peer: str | None = None
    edge_note: str = ""
    # Structure: how clearly what it does changed (calls it stopped, started or repeats,
    # its callers' invocations that now end right after calling it), 0..1 after the
    # discount for a changed mix of callers; the z of its strongest change; and the
    # invocations that changed beyond what the baseline predicts. See `structure`.
    struct_score: float = 0.0
    struct_z: float = 0.0
    struct_new: float = 0.0
    behaviour: Behaviour | None = None
    # A caller whose invocations now stop right after calling it, and how clearly.
    stopped_caller: str | None = None
    # Its own operations slowed alike, short ones too (resource contention): the median
    # self-time ratio over them and how many of how many slowed.
    uniform_ratio: float = 1.0
    uniform_slowed: tuple[int, int] = (0, 0)

    @property
    def err_weight(self) -> float:
        """The new failing spans it explains: its own new failures times the failing spans
        above each of them, so a failure that broke the request path outweighs one that
        stayed where it started."""
        return (self.err_new + self.user_new) * min(self.spread, 8.0)

    @property
    def latency(self) -> float:
        return self.own_latency + 0.5 * self.lat_net_out

    @property
    def behaviour_claim_holds(self) -> bool:
        """Is "what it does changed" a fair sentence: against a baseline, a structural change
        that stands out against the baseline's variation and affects enough invocations?"""
        return (
            self.compared
            and self.struct_score >= MIN_STRUCT_SCORE
            and self.struct_z >= STRUCT_Z
            # Twice the usual minimum: a handful of requests that took another branch is
            # what a system at rest does from minute to minute.
            and self.struct_new >= 2 * MIN_EVIDENCE
        )

    @property
    def uniform(self) -> bool:
        """Did its own operations slow down alike (resource contention)?"""
        slowed, compared = self.uniform_slowed
        return (
            compared > 0
            and slowed >= UNIFORM_SHARE * compared
            and self.uniform_ratio >= UNIFORM_RATIO
        )

    @property
    def latency_weighted(self) -> float:
        """What the ranking weighs: its own added time as far as it stands out against the
        baseline's variation, plus the hedge for edges it may hold."""
        return self.lat_sig + self.lat_hedge

    @property
    def lat_growth(self) -> float:
        """How much the hops charged to it grew, relative to their baseline size."""
        return self.own_latency / self.lat_before if self.lat_before > 0 else math.inf

    @property
    def latency_claim_holds(self) -> bool:
        """Is "it got slower and explains N% of the added latency" a fair sentence? Against a
        baseline it needs a real share of the added time, a real rise of its own hops that
        stands out against their normal variation, and enough spans behind it; without one,
        only a share worth reading."""
        if not self.compared:
            return self.lat_share >= 0.02
        grew = self.lat_growth >= MIN_LATENCY_GROWTH or self.lat_share >= MAJOR_LATENCY_SHARE
        return (
            self.lat_share >= MIN_LATENCY_SHARE
            and grew
            and self.lat_samples >= MIN_EVIDENCE
            # A rise within the hop's normal variation is jitter, whatever its share.
            and self.lat_z >= CLAIM_Z
        )

    @property
    def own_latency(self) -> float:
        """The added time charged to it alone: each critical-path hop is charged to exactly
        one component, so these add up over candidates without counting anything twice. (Its
        outgoing calls' network time is its callee's unless the edge was placed on its
        side; otherwise it only weighs in the score.)"""
        return self.lat_self + self.lat_net + self.lat_peer + self.lat_retry + self.lat_net_own


def _get(cands: dict[str, Candidate], name: str, ctype: str = "service") -> Candidate:
    c = cands.get(name)
    if c is None:
        c = cands[name] = Candidate(name, ctype)
    elif ctype != "service" and c.ctype == "service":
        c.ctype = ctype
    return c


# A structural change this clear (0..1) backs a "what it does changed" claim.
MIN_STRUCT_SCORE = 0.5
# A structural change counts for at most this much of a score (latency and errors, measured
# in time and failures, speak more directly).
STRUCT_WEIGHT = 0.5
# A caller's stop right after its call credits the callee this much of the caller's change
# when the callee's own spans did not change (the caller may have stopped on its own).
STOP_CREDIT = 0.9
# A service whose own operations all slowed weighs its latency this much more.
UNIFORM_BONUS = 1.5
# Hops that clearly grew size the slowdown only when they add this share of the requests'
# baseline time (else the entry points' net rise alone does).
MIN_SLOWDOWN = 0.02
# A hop shift of at least this many standard errors backs a "got slower" claim.
CLAIM_Z = 3.0
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
        out[key] = HopShift(d, z, before, step, sig, w)
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


def _attribute_latency(
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
            c = _get(cands, a)
            c.lat_self += d
            c.lat_sig += d * g.weight
            c.lat_before += g.before
            c.lat_z = _max_z(c, g.z)
            lead = inc.lead.get(key, 0) / max(1, inc.sampled) / 1e6 - (
                base.lead.get(key, 0) / max(1, base.sampled) / 1e6 if base else 0.0
            )
            c.lat_lead += min(max(lead, 0.0), d)
        elif what == "edge":
            _get(cands, a).lat_net_out += d
        else:
            c = _get(cands, b, inc.peer_kind.get(b, "external"))
            c.lat_peer += d
            c.lat_sig += d * g.weight
            c.lat_before += g.before
            c.lat_z = _max_z(c, g.z)
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
    """Place each grown client->server gap on one end of its edge. The gap is between the
    caller's client span and the callee's server span: a slow callee host (or the network
    into it) delays every caller's calls to it, a slow caller (CPU starved, its own network)
    delays its calls to every callee. The callee's other callers and the caller's other
    callees tell which; when nothing separates them (one caller, one callee, or both sides
    slowed) the callee is charged and the caller ranks right next to it."""
    for key, g in sorted(grown.items()):
        what, a, b = key
        if what != "edge":
            continue
        caller, callee = _get(cands, a), _get(cands, b)
        if not compared:
            # Nothing grew against anything: the callee holds its gap, the caller half of it.
            callee.lat_net += g.added
            callee.lat_sig += g.added
            caller.lat_hedge += 0.5 * g.added
            continue
        # The caller's other calls (to services and to uninstrumented peers) and the
        # callee's other callers, among the hops seen in either window.
        out = [k for k in keys if k[0] in ("edge", "peer") and k[1] == a and k[2] != b]
        into = [k for k in keys if k[0] == "edge" and k[2] == b and k[1] != a]
        caller_alike = sum(_alike(grown, k, g.added) for k in out) / len(out) if out else None
        callee_alike = sum(_alike(grown, k, g.added) for k in into) / len(into) if into else None
        caller_side = caller_alike is not None and caller_alike >= 0.5
        callee_side = callee_alike is not None and callee_alike >= 0.5
        if caller_side and not callee_side:
            side = "caller"
        elif callee_side and not caller_side:
            side = "callee"
        elif not caller_side and caller_alike is not None and not callee_side:
            # The caller's other calls are fine: the delay is specific to this callee.
            side = "callee"
        else:
            # Including: the callee's other callers look fine but the caller calls nothing
            # else to confirm its own side (too few of those calls to see a delay on them
            # looks the same as none): the evidence does not pick an end.
            side = "either"
        if side == "caller":
            caller.lat_net_own += g.added
            caller.lat_sig += g.added * g.weight
            caller.lat_before += g.before
            caller.lat_z = _max_z(caller, g.z)
            continue
        callee.lat_net += g.added
        callee.lat_sig += g.added * g.weight
        callee.lat_before += g.before
        callee.lat_z = _max_z(callee, g.z)
        if side == "either":
            # Just below the callee's credit: adjacent in the ranking, the callee first.
            caller.lat_hedge += 0.95 * g.added * g.weight
            why = (
                f"{a} and {b} both slowed on their other calls too"
                if caller_side and callee_side
                else f"{a} calls nothing else and {b} has no other caller to compare with"
                if caller_alike is None and callee_alike is None
                else f"neither {a}'s other calls nor {b}'s other callers tell the sides apart"
            )
            note = (
                f"the added gap on calls from {a} to {b} sits between {a}'s client spans and "
                f"{b}'s server spans and may be either end's: {why}"
            )
            if caller.edge_peer is None or g.added > _edge_size(grown, caller, a):
                caller.edge_peer, caller.edge_note = b, note
            if callee.edge_peer is None or g.added > _edge_size(grown, callee, a, into=True):
                callee.edge_peer, callee.edge_note = a, note


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


def _charge_retries(
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
        callee_c = _get(cands, callee, inc.peer_kind.get(callee, "service"))
        callee_c.lat_retry += moved
        callee_c.lat_before += before.get((caller, callee), 0.0)


def _new_errors(
    cands: dict[str, Candidate], inc: WindowStats, base: WindowStats | None, config: AnalysisConfig
) -> None:
    for name, o in inc.origins.items():
        c = _get(cands, name, inc.peer_kind.get(name, "service"))
        c.errors = o.errors + o.user_errors
        c.timeouts = o.timeouts
        c.examples = list(o.examples)
        c.absorbed = o.absorbed / max(1, o.errors + o.user_errors)
        c.spread = o.explained / max(1, o.errors + o.user_errors)
        c.unreachable = o.unreachable
        c.callers = sorted(o.callers, key=lambda k: (-o.callers[k], k))
        c.first_ns, c.first_span = o.first_ns, o.first_span
        calls = inc.calls.get(name, 0) or (o.errors + o.user_errors)
        b: OriginErrors | None = base.origins.get(name) if base else None
        for attr in ("errors", "user_errors"):
            now = getattr(o, attr)
            before = getattr(b, attr) if b is not None else 0
            if b is not None:
                c.baseline_errors += before
            new = float(now)
            if base is not None and (b is not None or base.calls.get(name, 0)):
                # An error that was failing at the same rate before is background, not the
                # cause. The rate is judged per call and per request: a dependency that was
                # always broken but now gets far more of the traffic fails more requests.
                per_call = _growth(now, calls, before, base.calls.get(name, 0) or before, config)
                per_request = _growth(now, inc.n_traces, before, base.n_traces, config)
                new = max(per_call, per_request)
            if attr == "errors":
                c.err_new = new
            else:
                c.user_new = new


def _growth(now: int, n_now: int, before: int, n_before: int, config: AnalysisConfig) -> float:
    """Failures beyond what the baseline rate predicts, 0 unless the rise is significant."""
    expected = before / max(1, n_before) * n_now
    n1, n2 = max(1, n_before), max(1, n_now)
    p1, p2 = before / n1, now / n2
    pooled = (before + now) / (n1 + n2)
    se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n1 + 1 / n2))
    z = (p2 - p1) / se  # two-proportion test: is the failure rate really higher than before?
    if now < expected * config.error_rate_growth or z < 2.0:
        return 0.0
    # Barely significant growth counts for less than a clear jump.
    return (now - expected) * min(1.0, (z - 1.5) / 2.5)


def _changed_itself(inc: WindowStats, base: WindowStats, service: str) -> bool:
    """Did the service's own spans change: an operation's self time moved well beyond its
    variation, either way (an exception ends work early, a stall drags it)?"""
    for op in inc.shape.ops:
        if op[0] != service:
            continue
        ratio, z, _ = self_shift(inc.shape, base.shape, op)
        if abs(z) >= STRUCT_Z and (ratio >= UNIFORM_RATIO or ratio <= 1.0 / UNIFORM_RATIO):
            return True
    return False


def _structure(cands: dict[str, Candidate], inc: WindowStats, base: WindowStats) -> None:
    """Structural evidence: services whose outgoing behaviour changed, callees after whose
    call their callers now stop, and services whose own operations all slowed alike."""
    failing = frozenset(n for n, c in cands.items() if c.err_new + c.user_new > 0)
    separate = base.table is not inc.table
    found = behaviour(inc.shape, base.shape, separate=separate, explained=failing)
    for name, b in sorted(found.items()):
        if b.strength <= 0:
            continue
        c = _get(cands, name)
        if b.strength > c.struct_score:
            c.struct_score, c.struct_z, c.behaviour = b.strength, b.z, b
        c.struct_new += b.affected
        for callee, ev in sorted(b.stops_after.items()):
            # The caller stops right after the callee answered: what the callee returned may
            # be why. A callee whose own spans changed is the likelier origin.
            credit = b.strength * ev
            if not _changed_itself(inc, base, callee):
                credit *= STOP_CREDIT
            t = _get(cands, callee, inc.peer_kind.get(callee, "service"))
            if credit > t.struct_score:
                t.struct_score, t.struct_z, t.stopped_caller = credit, b.z, name
                t.struct_new = max(t.struct_new, b.affected)
    for name, c in sorted(cands.items()):
        if c.ctype != "service" or c.own_latency <= 0:
            continue
        ratio, slowed, compared, step = uniform_slowdown(inc.shape, base.shape, name)
        c.uniform_ratio, c.uniform_slowed = ratio, (slowed, compared)
        # Against a separate capture, only a slowdown that began inside the incident window
        # earns the bonus: one already there at its start predates the incident.
        if c.uniform and (not separate or weight(step) >= 0.5):
            c.lat_sig *= UNIFORM_BONUS


def rank(
    inc: WindowStats, base: WindowStats | None, config: AnalysisConfig
) -> tuple[list[Candidate], dict[tuple[str, str, str], float]]:
    """Candidates best first, and the added critical-path ms per hop (for the report)."""
    cands: dict[str, Candidate] = {}
    added, shifts = _attribute_latency(cands, inc, base)
    _charge_retries(cands, inc, base, config)
    _new_errors(cands, inc, base, config)
    if base is not None:
        _structure(cands, inc, base)
    instrumented = {k[0] for k in inc.res_acc}
    for name, kind in inc.peer_kind.items():
        if name in cands:
            # A peer that emits spans of its own is one of our services, not an external API.
            cands[name].ctype = "service" if name in instrumented else kind

    base_root = base.mean_root_ms() if base else 0.0
    total_added = inc.mean_root_ms() - base_root
    # Hops that left the critical path (a parallel branch no longer the last to finish) make
    # the net rise smaller than the sum of the hops that grew; a share of the net rise would
    # then let two candidates each claim most of it. Shares are of the gross growth.
    grown = sum(d for d in added.values() if d > 0)
    # Weighted by how far each hop stands out: jitter of noisy hops does not count.
    lat_pool = sum(c.latency_weighted for c in cands.values()) or 1e-9
    own_pool = sum(c.own_latency for c in cands.values()) or 1e-9
    # The size of the slowdown: the entry points' net rise, or the hops that clearly grew
    # (a delay on a rarely used call can be drowned in the entry points' mean).
    sig_grown = sum(g.added * g.significance for g in shifts.values())
    if sig_grown < MIN_SLOWDOWN * base_root:
        sig_grown = 0.0  # a few clear but tiny rises are no slowdown of the requests
    lat_mag = min(1.0, max(0.0, total_added, sig_grown) / max(base_root, 1.0)) if base else 0.3
    err_pool = sum(c.err_new + c.user_new for c in cands.values()) or 1e-9
    weight_pool = sum(c.err_weight for c in cands.values()) or 1e-9
    # A handful of failures is weak evidence however large a share of few traces it is.
    err_mag = min(1.0, err_pool / max(1, inc.n_traces) * 4.0) * min(1.0, err_pool / 5.0)
    for c in cands.values():
        c.lat_score = lat_mag * min(1.0, c.latency_weighted / lat_pool)
        c.lat_share = min(
            1.0, c.own_latency / (max(total_added, grown) if base and total_added > 0 else own_pool)
        )
        c.err_score = err_mag * min(1.0, c.err_weight / weight_pool)
        if c.user_new > c.err_new and c.absorbed >= 0.8:
            # A 4xx the entry point absorbed (a lookup that found nothing, a retried token) is
            # routine traffic, not an outage the client caused.
            c.err_score *= 0.5
        struct = STRUCT_WEIGHT * c.struct_score
        c.score = 1.0 - (1.0 - c.lat_score) * (1.0 - c.err_score) * (1.0 - struct)
        c.compared = base is not None
        if c.compared and c.lat_z == math.inf:
            c.lat_z = 0.0  # compared, and none of its hops grew
        c.lat_samples = inc.calls.get(c.component, 0)
        if base is None:
            c.score *= 0.7  # nothing to compare with: the ranking is a weaker guess

    _cache_pushes_database(cands, inc, base)
    ordered = sorted(cands.values(), key=lambda c: (-c.score, c.component))
    for c in ordered[: config.max_root_causes]:
        _describe(c, inc, base, added)
    return ordered, added


def _cache_pushes_database(
    cands: dict[str, Candidate], inc: WindowStats, base: WindowStats | None
) -> None:
    """A failing cache sends its misses to the database: the cache is the cause and the slow
    database its symptom, when database calls per trace rose along with the cache errors."""
    for cache in [c for c in cands.values() if c.ctype == "cache" and c.err_new > 0]:
        callers = {a for a, b in inc.graph if b == cache.component}
        for db in [c for c in cands.values() if c.ctype == "db" and c is not cache]:
            if not any((a, db.component) in inc.graph for a in callers):
                continue
            now = inc.calls.get(db.component, 0) / max(1, inc.n_traces)
            before = (base.calls.get(db.component, 0) / max(1, base.n_traces)) if base else now
            if before and now >= 1.3 * before:
                cache.score = min(1.0, cache.score + db.score)
                cache.facts.append(
                    f"calls to {db.component} per request rose {now / before:.1f}x while "
                    f"{cache.component} failed"
                )
                db.score *= 0.4
                db.symptom_of = cache.component


def _concentration(c: Candidate, inc: WindowStats, base: WindowStats | None) -> None:
    """Name the version (a deploy) or the instance (a bad pod) the trouble sits on."""
    o = inc.origins.get(c.component)
    keys = [k for k in inc.res_acc if k[0] == c.component]
    if len(keys) < 2:
        return
    acc = inc.res_acc
    by_version: Counter[str] = Counter()
    calls_version: Counter[str] = Counter()
    for k in keys:
        calls_version[k[2] or ""] += acc[k][0]
        if o:
            by_version[k[2] or ""] += o.by_resource.get(k, 0)
    if c.err_new > 0 and o and len(calls_version) >= 2:
        old_versions: set[str] = set()
        if base:
            seen: Counter[str] = Counter()
            for k, a in base.res_acc.items():
                if k[0] == c.component:
                    seen[k[2] or ""] += a[0]
            # A version that barely ran before the incident was still rolling out.
            old_versions = {v for v, n in seen.items() if n >= 0.1 * sum(seen.values())}
        else:
            cutoff = inc.start_ns + (inc.end_ns - inc.start_ns) // 10
            old_versions = {k[2] or "" for k in keys if acc[k][2] <= cutoff}
        total = sum(by_version.values()) or 1
        for v, errs in by_version.most_common():
            if not v or v in old_versions:
                continue
            rate = errs / max(1, calls_version[v])
            rest = (total - errs) / max(1, sum(calls_version.values()) - calls_version[v])
            older_calls = sum(calls_version.values()) - calls_version[v]
            # Blaming a version needs failures enough to tell a pattern from chance, and
            # older versions serving enough traffic to compare with.
            if (
                errs >= 0.5 * total
                and rate >= 3 * rest
                and errs >= MIN_EVIDENCE
                and older_calls >= MIN_EVIDENCE
            ):
                c.kind, c.version = "deploy", v
                c.concentration = (
                    f"{errs} of {total} failures on new version {v} "
                    f"({rate:.0%} vs {rest:.0%} on older versions)"
                )
                c.facts.append(c.concentration)
                return
    instances = [k for k in keys if k[1]]
    if len(instances) < 2:
        return
    if c.err_score >= c.lat_score and o and o.by_resource:
        total = sum(o.by_resource.values())
        k, errs = max(o.by_resource.items(), key=lambda kv: (kv[1], kv[0][1] or ""))
        rate = errs / max(1, acc[k][0] if k in acc else 1)
        rest_calls = sum(acc[x][0] for x in keys if x != k)
        rest = (total - errs) / max(1, rest_calls)
        if (
            k[1]
            and errs >= 0.6 * total
            and rate >= 3 * rest
            and errs >= MIN_EVIDENCE
            and rest_calls >= MIN_EVIDENCE
        ):
            c.instance = k[1]
            c.concentration = (
                f"{errs} of {total} failures on {c.instance} "
                f"({rate:.0%} vs {rest:.0%} on its "
                f"{plural(len(keys) - 1, 'peer')})"
            )
            c.facts.append(c.concentration)
    elif c.lat_score > c.err_score:
        means = {k: acc[k][1] / max(1, acc[k][0]) for k in instances}
        k = max(means, key=lambda x: (means[x], x[1] or ""))
        others = sorted(m for x, m in means.items() if x != k)
        median = others[len(others) // 2] if others else 0.0
        peer_spans = sum(acc[x][0] for x in instances if x != k)
        if (
            median > 0
            and means[k] >= 3 * median
            and acc[k][0] >= MIN_EVIDENCE
            and peer_spans >= MIN_EVIDENCE
        ):
            c.instance = k[1]
            c.concentration = (
                f"{c.instance} spans average {ms_text(means[k] / 1e6)} vs "
                f"{ms_text(median / 1e6)} on its peers"
            )
            c.facts.append(c.concentration)


def _describe(
    c: Candidate,
    inc: WindowStats,
    base: WindowStats | None,
    added: dict[tuple[str, str, str], float],
) -> None:
    """Kind, category, origin, operation and one-line facts of a ranked candidate."""
    o = inc.origins.get(c.component)
    spans = inc.table.spans
    if c.ctype == "external":
        c.origin = "dependency"
    struct = STRUCT_WEIGHT * c.struct_score
    # A component with new failures is described by them: they explain what it stopped doing.
    if struct > max(c.lat_score, c.err_score) and c.err_new + c.user_new <= 0:
        _describe_behaviour(c)
    elif c.err_score >= c.lat_score and (c.err_new + c.user_new) > 0:
        if c.user_new > c.err_new:
            c.kind, c.category, c.origin = "client-input", "permanent", "user"
        elif c.timeouts >= 0.5 * max(1, c.errors):
            c.kind, c.category = "latency", "transient"
        elif c.unreachable >= 0.5 * max(1, c.errors) and c.ctype in ("service", "external"):
            # Calls that never connected say nothing about the peer's own code: it is down,
            # unresolvable or cut off. (A store keeps kind "error": its actions differ.)
            c.kind, c.category = "dependency", "transient"
            c.facts.append(
                f"{c.unreachable} calls from {', '.join(c.callers[:5])} never connected "
                f"(unavailable, refused or unresolvable)"
            )
        else:
            c.kind = "error"
            cats = Counter(classify(spans[i], ERROR)[0] for i in c.examples)
            c.category = cats.most_common(1)[0][0] if cats else "transient"
            o_retried = o.retried if o else 0
            c.consumer = bool(c.examples) and sum(
                in_consumer(inc.table, i) for i in c.examples
            ) >= 0.5 * len(c.examples)
            # A message consumer's failure is not absorbed by anyone: the producer moved on
            # long ago and the message is retried, dead-lettered or lost.
            c.category = failure_category(
                c.category,
                c.errors,
                round(c.absorbed * max(1, c.errors)),
                o_retried,
                c.consumer,
            )
            if o_retried:
                c.facts.append(f"{o_retried} failed calls were retried by their callers")
            if c.lat_retry > 0 and base is not None:
                c.facts.append(
                    f"callers waited {ms_text(c.lat_retry)} more per request "
                    f"between retries of its failed calls"
                )
        if o and o.operations:
            c.operation = max(o.operations.items(), key=lambda kv: kv[1])[0]
        c.facts.insert(
            0,
            f"{plural(c.errors, 'failure')} originate here during the incident "
            f"({c.baseline_errors} in the baseline)"
            if base is not None
            else f"{plural(c.errors, 'failure')} originate here (no baseline to compare with)",
        )
        if c.timeouts:
            c.facts.append(f"{plural(c.timeouts, 'call')} gave up with a timeout waiting for it")
        if c.consumer:
            c.facts.append("the failures happen while consuming messages: no caller waits for them")
        elif c.absorbed:
            c.facts.append(f"{c.absorbed:.0%} of them were absorbed: the entry point succeeded")
    else:
        c.category = "transient"
        parts = {"network": c.lat_net + c.lat_net_own, "self": c.lat_self, "peer": c.lat_peer}
        main = max(parts, key=lambda k: parts[k])
        has_store = any(
            b for a, b in inc.graph if a == c.component and inc.peer_kind.get(b) in ("db", "cache")
        )
        if main == "network" or (
            c.lat_net_out > c.lat_self + c.lat_peer and c.lat_net_out > 0.3 * c.latency
        ):
            c.kind = "network"
            if c.lat_net_out > c.lat_net:
                # The delay sits on calls it makes: the same time its callee is charged with.
                out = [
                    (d, k[2])
                    for k, d in added.items()
                    if k[0] == "edge" and k[1] == c.component and k[2] != c.component and d > 0
                ]
                if out:
                    c.net_callee = max(out)[1]
        elif main == "self" and c.lat_lead >= 0.6 * c.lat_self and has_store:
            c.kind = "saturation"
        else:
            c.kind = "latency"
        if c.uniform and main != "peer":
            # Every operation of its own slowed, short ones too: the instances are starved
            # (CPU, memory, throttling), whichever hop shows it most.
            c.kind = "saturation"
        own = [
            (d, k)
            for k, d in added.items()
            if d > 0
            and (
                (k[0] == "self" and k[1] == c.component) or (k[0] != "self" and k[2] == c.component)
            )
        ]
        if own:
            _, k = max(own)
            c.operation = k[2] if k[0] == "self" else None
            if k[0] == "peer":
                c.operation = next((spans[i].name for i in _examples_for_peer(inc, k)), None)
        # The parts add up to the total, and each added millisecond is stated for one
        # component only: its outgoing calls' network time is its callee's.
        pieces = [
            text
            for value, text in (
                (c.lat_net, f"network into it {ms_text(c.lat_net)}"),
                (c.lat_net_own, f"its side of its outgoing calls {ms_text(c.lat_net_own)}"),
                (c.lat_self, f"own work {ms_text(c.lat_self)}"),
                (c.lat_peer, f"time in calls to it {ms_text(c.lat_peer)}"),
                (c.lat_retry, f"callers waiting to retry it {ms_text(c.lat_retry)}"),
            )
            if value > 0
        ]
        elsewhere = c.lat_net_out - c.lat_net_own
        if elsewhere > 1e-9:
            pieces.append(
                f"besides, its own calls spent {ms_text(elsewhere)} on the "
                f"network, counted for the callee"
            )
        if base is None:
            pieces.append("no baseline to compare with")
        parts_text = f" ({'; '.join(pieces)})" if pieces else ""
        c.facts.insert(
            0,
            f"explains {ms_text(c.own_latency)} of added critical-path time per request{parts_text}"
            if base is not None
            else f"takes {ms_text(c.own_latency)} of critical-path time per request{parts_text}",
        )
    if c.edge_note:
        c.facts.append(c.edge_note)
    if c.kind != "behaviour" and c.struct_score >= MIN_STRUCT_SCORE:
        c.facts.extend(_behaviour_facts(c)[:2])
    _concentration(c, inc, base)
    if c.uniform and not c.instance:
        # (One slow instance says more than "all its operations": it names where.)
        slowed, compared = c.uniform_slowed
        c.facts.append(
            f"{slowed} of its {plural(compared, 'own operation')} slowed alike (median "
            f"self time x{c.uniform_ratio:.1f}), short ones too: resource contention on "
            f"its instances (CPU, memory, threads or connections)"
        )
    if c.kind == "client-input":
        c.origin = "user"


def _op_text(op: tuple[str, str]) -> str:
    return f"{op[0]}.{op[1]}"


def _behaviour_facts(c: Candidate) -> list[str]:
    """One sentence per structural change: calls stopped, started or repeated, callers
    that now stop after calling it, and a caller mix that moved."""
    facts: list[str] = []
    b = c.behaviour
    if b is not None:
        for ch in b.changes[:3]:
            call, op = _op_text(ch.call), _op_text(ch.op)
            if ch.how == "stopped":
                facts.append(
                    f"stopped calling {call} in {1 - ch.after:.0%} of its {op} invocations "
                    f"(was {1 - ch.before:.0%}; {ch.n_after} invocations, {ch.z:.1f} standard "
                    f"errors beyond the baseline's variation)"
                )
            elif ch.how == "started":
                facts.append(
                    f"started calling {call} in {ch.after:.0%} of its {op} invocations (was "
                    f"{ch.before:.0%}; {ch.n_after} invocations, {ch.z:.1f} standard errors "
                    f"beyond the baseline's variation)"
                )
            else:
                facts.append(
                    f"calls {call} {ch.after:.1f} times per {op} invocation that calls it "
                    f"(was {ch.before:.1f})"
                )
        for callee, _ev in sorted(b.stops_after.items(), key=lambda kv: -kv[1])[:1]:
            facts.append(f"its invocations now often end right after a call to {callee}")
        if b.context_shift >= 0.2:
            facts.append(
                f"the mix of calls into it moved too ({b.context_shift:.0%} of them), "
                f"which may explain part of the change"
            )
        if b.upstream >= 0.5:
            facts.append(
                "services calling it changed what they do as well: it may only be answering "
                "different requests"
            )
    if c.stopped_caller:
        facts.append(
            f"{c.stopped_caller} now often stops right after calling it and skips the calls "
            f"that used to follow: what it answered may be why"
        )
    return facts


def _describe_behaviour(c: Candidate) -> None:
    """A candidate whose evidence is what it does, not how long it takes or whether its
    spans fail: kind "behaviour" (a code-level change: an exception, a changed return value,
    a feature switched on or off)."""
    c.kind, c.category, c.origin = "behaviour", "transient", "infrastructure"
    b = c.behaviour
    if b is not None and b.changes:
        c.operation = b.changes[0].op[1]
    c.facts[:0] = _behaviour_facts(c)


def in_consumer(table: SpanTable, i: int) -> bool:
    """Does span `i` run inside message consumption: below (or as) a CONSUMER span, or below
    a PRODUCER span's hand-off? Such work is asynchronous to whoever sent the message."""
    spans, parent = table.spans, table.parent
    j = i
    for _ in range(256):
        k = spans[j].kind
        if k == SpanKind.CONSUMER:
            return True
        p = parent[j]
        if p < 0:
            return False
        if spans[p].kind == SpanKind.PRODUCER:
            return True
        j = p
    return False


def _examples_for_peer(inc: WindowStats, key: tuple[str, str, str]) -> list[int]:
    """A few client spans from `key[1]` to the peer `key[2]`, scanning a bounded prefix."""
    out: list[int] = []
    table = inc.table
    for t in inc.traces[:200]:
        for i in table.members[t]:
            s = table.spans[i]
            if s.service == key[1] and not table.has_child[i] and peer_name(s) == key[2]:
                out.append(i)
                if len(out) >= 3:
                    return out
    return out
