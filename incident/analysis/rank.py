"""Root-cause ranking: one scoring scheme over every component (service or uninstrumented
peer) that combines the added latency it explains on critical paths (`attribution`), the new
errors whose deepest failing span points at it and how what it does changed (`behaviour`);
then `describe` names the kind, instance or version of the top candidates."""

from __future__ import annotations

import math

from incident.analysis import wording
from incident.analysis.attribution import attribute_latency, charge_retries
from incident.analysis.behaviour import (
    POOL_RATIO,
    POOL_Z,
    STRUCT_Z,
    UNIFORM_RATIO,
    behaviour,
    pooled_calls_out,
    pooled_slowdown,
    self_shift,
    uniform_slowdown,
)
from incident.analysis.candidate import Candidate, combined, get_or_add
from incident.analysis.config import AnalysisConfig
from incident.analysis.describe import describe
from incident.analysis.signals import OriginErrors, WindowStats
from incident.analysis.variation import weight

# A caller's stop right after its call credits the callee this much of the caller's change
# when the callee's own spans did not change (the caller may have stopped on its own).
STOP_CREDIT = 0.9
# A service whose own operations all slowed weighs its latency this much more.
UNIFORM_BONUS = 1.5
# Hops that clearly grew size the slowdown only when they add this share of the requests'
# baseline time (else the entry points' net rise alone does).
MIN_SLOWDOWN = 0.02


def _new_errors(
    cands: dict[str, Candidate], inc: WindowStats, base: WindowStats | None, config: AnalysisConfig
) -> None:
    for name, o in inc.origins.items():
        c = get_or_add(cands, name, inc.peer_kind.get(name, "service"))
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
        c.calls = calls
        if base is not None:
            c.baseline_calls = base.calls.get(name, 0) or c.baseline_errors


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
    failing = frozenset(n for n, c in cands.items() if c.fails_more)
    separate = base.table is not inc.table
    found = behaviour(inc.shape, base.shape, separate=separate, explained=failing)
    for name, b in sorted(found.items()):
        if b.strength <= 0:
            continue
        c = get_or_add(cands, name)
        if b.strength > c.struct_score:
            c.struct_score, c.struct_z, c.behaviour = b.strength, b.z, b
        c.struct_new += b.affected
        for callee, ev in sorted(b.stops_after.items()):
            # The caller stops right after the callee answered: what the callee returned may
            # be why. A callee whose own spans changed is the likelier origin.
            credit = b.strength * ev
            if not _changed_itself(inc, base, callee):
                credit *= STOP_CREDIT
            t = get_or_add(cands, callee, inc.peer_kind.get(callee, "service"))
            if credit > t.struct_score:
                t.struct_score, t.struct_z, t.stopped_caller = credit, b.z, name
                t.struct_new = max(t.struct_new, b.affected)
    # A caller of something that now fails waits between its retries and handles errors:
    # its own time rising is the failure's echo, not contention of its own.
    echoes = {a for a, b in inc.graph if b in failing and a != b}
    for name in sorted({op[0] for op in inc.shape.ops} - echoes):
        ratio, z, ops = pooled_slowdown(inc.shape, base.shape, name)
        own = ops >= POOL_OPS and z >= POOL_Z and ratio >= POOL_RATIO
        if ops >= POOL_OPS and (own or name in cands):
            c = get_or_add(cands, name)
            c.pooled_ratio, c.pooled_z, c.pooled_ops = ratio, z, ops
        if own:
            continue
        # Its own work may show too little (a few short spans): every call it makes waiting
        # longer on its side tells the same.
        ratio, z, callees = pooled_calls_out(inc.shape, base.shape, name)
        if callees >= POOL_OPS and z >= POOL_Z and ratio >= POOL_RATIO:
            c = get_or_add(cands, name)
            c.pooled_ratio, c.pooled_z, c.pooled_ops, c.pooled_calls = ratio, z, callees, True
    for name, c in sorted(cands.items()):
        if c.ctype != "service" or c.own_latency <= 0:
            continue
        ratio, slowed, compared, step = uniform_slowdown(inc.shape, base.shape, name)
        c.uniform_ratio, c.uniform_slowed = ratio, (slowed, compared)
        # Against a separate capture, only a slowdown that began inside the incident window
        # earns the bonus: one already there at its start predates the incident.
        if c.uniform and (not separate or weight(step) >= 0.5):
            c.lat_sig *= UNIFORM_BONUS


# How much a slowdown confined to the requests through one hop can score, at most, and the
# least it must add to them (a share of the baseline's mean request) to score at all.
LOCAL_WEIGHT = 0.5
LOCAL_MIN = 0.1
# A service whose own time rose as a whole (pooled over its operations) scores up to this
# much however few requests reach it, in full from this ratio.
POOL_WEIGHT = 0.6
POOL_FULL = 8.0
# "Its operations slowed alike" needs more than one operation to say it of.
POOL_OPS = 2


def rank(
    inc: WindowStats, base: WindowStats | None, config: AnalysisConfig
) -> tuple[list[Candidate], dict[tuple[str, str, str], float]]:
    """Candidates best first, and the added critical-path ms per hop (for the report)."""
    cands: dict[str, Candidate] = {}
    added, shifts = attribute_latency(cands, inc, base)
    charge_retries(cands, inc, base, config)
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
        if base is not None:
            # A slowdown of the requests that pass through one hop, sized for them: the mean
            # over every request hides a rarely used call that got much slower.
            local = min(1.0, c.lat_local / max(base_root, 1.0))
            if local >= LOCAL_MIN:
                c.lat_score = max(c.lat_score, LOCAL_WEIGHT * local)
            if c.pooled:
                size = min(1.0, math.log(c.pooled_ratio) / math.log(POOL_FULL))
                c.pooled_led = POOL_WEIGHT * size > c.lat_score
                c.lat_score = max(c.lat_score, POOL_WEIGHT * size)
        c.lat_share = min(
            1.0, c.own_latency / (max(total_added, grown) if base and total_added > 0 else own_pool)
        )
        c.err_score = err_mag * min(1.0, c.err_weight / weight_pool)
        if c.user_new > c.err_new and c.absorbed >= 0.8:
            # A 4xx the entry point absorbed (a lookup that found nothing, a retried token) is
            # routine traffic, not an outage the client caused.
            c.err_score *= 0.5
        c.score = combined(c.lat_score, c.err_score, c.struct_part)
        c.compared = base is not None
        if c.compared and c.lat_z == math.inf:
            c.lat_z = 0.0  # compared, and none of its hops grew
        c.lat_samples = inc.calls.get(c.component, 0)
        if base is None:
            c.score *= 0.7  # nothing to compare with: the ranking is a weaker guess

    _cache_pushes_database(cands, inc, base)
    ordered = sorted(cands.values(), key=lambda c: (-c.score, c.component))
    for c in ordered[: config.max_root_causes]:
        describe(c, inc, base, added)
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
                    wording.cache_misses_fact(db.component, now / before, cache.component)
                )
                db.score *= 0.4
                db.symptom_of = cache.component
