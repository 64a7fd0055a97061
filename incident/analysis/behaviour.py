"""Comparing two windows' shapes (see `structure`): per service, the calls it stopped, started
or repeats and the callees after which its invocations now stop (`behaviour`); per
operation, how its own time moved (`self_shift`); per service, whether every own operation
slowed alike, short ones too (`uniform_slowdown`: resource contention), also when each of
them ran only a few times (`pooled_slowdown`), and whether its calls out all waited longer
on its own side (`pooled_calls_out`).

Each change is judged against the baseline's own variation per time chunk (see
`variation`), and against a separate capture, by whether it happened inside the incident
window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from incident.analysis.structure import Context, CtxPair, OpKey, Sample, Shape
from incident.analysis.variation import (
    CHUNKS,
    rate_drift,
    rate_step_z,
    rate_z,
    step_z,
    weight,
    welch_z,
)

# An operation needs this many invocations in each window before its calls are compared.
MIN_INVOCATIONS = 5
# A call's share of invocations must move by this much (absolute) to count as changed...
MIN_EFFECT = 0.2
# ...and counts fully from this much.
FULL_EFFECT = 0.5
# Standard errors a structural change needs to count at all (see `variation.weight`).
STRUCT_Z = 3.0
# An operation whose invocations with a failing call rose by this share reacts to failures.
ECHO_SHARE = 0.1
# Against a separate baseline capture, a change already there at the start of the incident
# window keeps this much of its evidence.
PREDATES = 0.4
# A service's own operations must mostly slow down alike to read as resource contention.
UNIFORM_SHARE = 0.6
UNIFORM_RATIO = 1.2
# A service of one operation: that operation alone must rise this much.
UNIFORM_ALONE = 2.0
# Each of them by this many standard errors: it is their agreement that tells.
UNIFORM_Z = 2.0
# The pooled test takes an operation that ran this many times in each window, and never
# believes a standard error below this (log units: about 5%).
POOL_MIN = 2
POOL_SE_FLOOR = 0.05
# A pooled rise counts as contention from this ratio and this many standard errors: above
# what fault-free real minutes reach (about x2 inside one export; x2.5 at z 13 between
# calm minutes of two different days), below starved services (x3.6 to x8 on labelled
# faults of the development half).
POOL_RATIO = 3.0
POOL_Z = 4.0


@dataclass
class CallChange:
    """One call that an operation stopped, started or repeated."""

    op: OpKey  # the calling operation
    call: OpKey  # what it calls (a wrapper's callee)
    ctx: Context  # the call that led into the operation's service
    before: float  # share of its invocations that made the call (or calls per such one)
    after: float
    n_before: int
    n_after: int
    z: float
    how: str  # "stopped" | "started" | "repeats"
    step: float = 0.0  # how clearly it changed inside the incident window
    evidence: float = 0.0  # 0..1


@dataclass
class Behaviour:
    """What changed in what one service does: the calls it stopped, started or repeats, and
    where its invocations now end."""

    service: str
    strength: float = 0.0  # 0..1: the best change's evidence, after the context discount
    z: float = 0.0  # of its strongest change
    affected: float = 0.0  # invocations beyond what the baseline predicts
    context_shift: float = 0.0  # how much the mix of its callers moved (0..1)
    upstream: float = 0.0  # the strongest change among the services calling it
    changes: list[CallChange] = field(default_factory=list)
    # Callees after whose call its invocations now stop: callee service -> evidence.
    stops_after: dict[str, float] = field(default_factory=dict)


def _entry_mix(shape: Shape, service: str) -> dict[CtxPair, int]:
    """How requests reach a service: calls into its operations from other services."""
    return {k: v.calls for k, v in shape.pairs.items() if k[2][0] == service and k[1][0] != service}


def _callers(shape: Shape, service: str) -> set[str]:
    """The services that call into `service`."""
    return {k[1][0] for k in shape.pairs if k[2][0] == service and k[1][0] != service}


def _tv(a: dict[CtxPair, int], b: dict[CtxPair, int]) -> float:
    """Total variation distance between two count distributions (0 same, 1 disjoint)."""
    na, nb = sum(a.values()), sum(b.values())
    if not na or not nb:
        return 0.0
    return 0.5 * sum(abs(a.get(k, 0) / na - b.get(k, 0) / nb) for k in set(a) | set(b))


def _tail_rate(
    chunk_k: list[int], chunk_n: list[int], k0: int, n0: int, phi: float
) -> tuple[float, float, int]:
    """(rate, z against the baseline's k0 of n0, invocations) of the incident window, or of
    its trailing run of chunks where the rate moved the most: a change that began inside
    the window is diluted by the traffic before it."""
    k1, n1 = sum(chunk_k), sum(chunk_n)
    best = (k1 / n1 if n1 else 0.0, rate_z(k1, n1, k0, n0, phi), n1)
    tk = tn = 0
    for a, b in zip(reversed(chunk_k), reversed(chunk_n), strict=False):
        tk += a
        tn += b
        if MIN_INVOCATIONS <= tn < n1:
            z = rate_z(tk, tn, k0, n0, phi)
            if abs(z) > abs(best[1]):
                best = (tk / tn, z, tn)
    return best


def _order(key: CtxPair) -> tuple[str, str, str, str, str, str]:
    ctx = key[0] or ("", "")
    return (*ctx, *key[1], *key[2])


def _call_changes(inc: Shape, base: Shape, separate: bool) -> list[CallChange]:
    """Calls whose share of the caller's invocations moved beyond the baseline's variation,
    and calls now repeated more often per invocation."""
    out: list[CallChange] = []
    for key in sorted(set(inc.pairs) | set(base.pairs), key=_order):
        ctx, op, call = key
        n1, n0 = inc.ctx_invocations(op, ctx), base.ctx_invocations(op, ctx)
        if n1 < MIN_INVOCATIONS or n0 < MIN_INVOCATIONS:
            continue
        p1, p0 = inc.pairs.get(key), base.pairs.get(key)
        k1, k0 = (p1.has if p1 else 0), (p0.has if p0 else 0)
        r1, r0 = k1 / n1, k0 / n0
        chunk_k0 = p0.chunk_has if p0 else [0] * CHUNKS
        phi = rate_drift(chunk_k0, base.chunk_invocations(op, ctx))
        chunk_k1 = p1.chunk_has if p1 else [0] * CHUNKS
        chunk_n1 = inc.chunk_invocations(op, ctx)
        r1, z, n_used = _tail_rate(chunk_k1, chunk_n1, k0, n0, phi)
        effect = r1 - r0
        if abs(effect) >= MIN_EFFECT and abs(z) >= STRUCT_Z:
            sign = 1.0 if effect > 0 else -1.0
            step = rate_step_z(chunk_k1, chunk_n1, sign) if separate else 0.0
            ev = weight(abs(z)) * min(1.0, abs(effect) / FULL_EFFECT)
            how = "started" if effect > 0 else "stopped"
            out.append(CallChange(op, call, ctx, r0, r1, n0, n_used, abs(z), how, step, ev))
            continue
        if p1 and p0 and p1.has >= MIN_INVOCATIONS and p0.has >= MIN_INVOCATIONS:
            q1, q0 = p1.calls / p1.has, p0.calls / p0.has
            if q1 >= 1.5 * q0 and q1 - q0 >= 0.5:
                zq = (q1 - q0) / math.sqrt(q0 / p0.has + q1 / p1.has)
                if zq >= STRUCT_Z:
                    ev = weight(zq) * min(1.0, (q1 / q0 - 1.0) / 2.0)
                    out.append(
                        CallChange(op, call, ctx, q0, q1, p0.has, p1.has, zq, "repeats", 0.0, ev)
                    )
    return out


def _stops(inc: Shape, base: Shape, stopped: set[OpKey]) -> dict[tuple[str, str], float]:
    """(caller service, callee service) -> evidence that the caller's invocations now end
    right after calling the callee, where they used to go on: the share of an operation's
    invocations whose last call is to the callee rose, for operations in `stopped` (those
    that stopped making a call into another service; a caller that merely no longer runs
    an error handler of its own ends after its last call too, and has not stopped)."""
    out: dict[tuple[str, str], float] = {}
    for key in sorted(set(inc.last) | set(base.last)):
        op, call = key
        if call[0] == op[0] or op not in stopped:
            continue  # ends inside its own service: not a callee's answer
        n1, n0 = inc.invocations(op), base.invocations(op)
        if n1 < MIN_INVOCATIONS or n0 < MIN_INVOCATIONS:
            continue
        k1, k0 = inc.last.get(key, 0), base.last.get(key, 0)
        z = rate_z(k1, n1, k0, n0)
        effect = k1 / n1 - k0 / n0
        if effect >= MIN_EFFECT and z >= STRUCT_Z:
            ev = weight(z) * min(1.0, effect / FULL_EFFECT)
            pair = (op[0], call[0])
            out[pair] = max(out.get(pair, 0.0), ev)
    return out


def behaviour(
    inc: Shape, base: Shape, *, separate: bool, explained: frozenset[str] = frozenset()
) -> dict[str, Behaviour]:
    """Per service, how its outgoing behaviour changed against the baseline. A change of a
    call into a service in `explained` (one that now fails) is its failure's echo, not the
    caller's own doing, and is left out. Against a `separate` baseline capture (another
    time, another load mix, maybe another release), a change counts fully only if it
    happened inside the incident window: what was already different at the window's start
    is a difference between the captures as much as an incident."""
    # An operation that now calls a failing service, or whose calls now fail more often,
    # reacts to those failures: whatever else it stopped or started doing is their echo.
    echoes = {(k[0], k[1]) for k in inc.pairs if k[2][0] in explained}
    for key, failing in inc.ctx_failing.items():
        n1, n0 = inc.ctx_invocations(key[1], key[0]), base.ctx_invocations(key[1], key[0])
        k0 = base.ctx_failing.get(key, 0)
        if n1 and failing / n1 - (k0 / n0 if n0 else 0.0) >= ECHO_SHARE:
            echoes.add(key)
    changes = [
        ch
        for ch in _call_changes(inc, base, separate)
        if ch.call[0] not in explained and (ch.ctx, ch.op) not in echoes
    ]
    out: dict[str, Behaviour] = {}
    for ch in changes:
        if separate:
            ch.evidence *= PREDATES + (1.0 - PREDATES) * weight(ch.step)
        svc = ch.op[0]
        b = out.get(svc)
        if b is None:
            b = out[svc] = Behaviour(svc)
        b.changes.append(ch)
        if ch.how != "repeats":
            b.affected += abs(ch.after - ch.before) * ch.n_after
    for svc, b in out.items():
        b.context_shift = _tv(_entry_mix(inc, svc), _entry_mix(base, svc))
        b.changes.sort(key=lambda ch: (-ch.evidence, ch.op, ch.call))
        best = b.changes[0]
        b.strength = best.evidence * (1.0 - b.context_shift)
        b.z = best.z
    # A service whose callers changed what they do may only be answering different
    # requests: its own change counts half as much as the strongest change above it.
    raw = {svc: b.strength for svc, b in out.items()}
    for svc, b in sorted(out.items()):
        above = max((raw.get(c, 0.0) for c in _callers(inc, svc) if c != svc), default=0.0)
        b.upstream = above
        b.strength *= 1.0 - 0.5 * above
    stopped = {
        ch.op
        for ch in changes
        if ch.how == "stopped" and ch.call[0] != ch.op[0] and ch.evidence >= 0.5
    }
    for (caller, callee), ev in sorted(_stops(inc, base, stopped).items()):
        if callee in explained:
            continue
        b = out.get(caller)
        if b is not None and b.changes:
            b.stops_after[callee] = ev
    return out


def self_shift(inc: Shape, base: Shape, op: OpKey) -> tuple[float, float, float]:
    """(ratio of geometric-mean self time, z, step inside the incident window) of one
    operation; (1, 0, 0) when either window has too few of its spans."""
    a, b = inc.ops.get(op), base.ops.get(op)
    if a is None or b is None or a.self_log.n < MIN_INVOCATIONS or b.self_log.n < MIN_INVOCATIONS:
        return 1.0, 0.0, 0.0
    s1, s0 = a.self_log, b.self_log
    z = welch_z(s1.m, s1.n, s0.m, s0.n, s0.chunk_n, floor=0.01)
    ratio = math.exp(s1.m.total / s1.n - s0.m.total / s0.n)
    return ratio, z, step_z(s1.m, s1.n, s1.chunk_n)


def uniform_slowdown(inc: Shape, base: Shape, service: str) -> tuple[float, int, int, float]:
    """(median self-time ratio, operations slowed, operations compared, median step of the
    slowed ones inside the incident window) over the service's own operations (not the
    wrappers of its outgoing calls, whose time is the network's): resource contention slows
    every one of them, short ones too."""
    ratios: list[float] = []
    steps: list[float] = []
    slowed = 0
    for op, st in inc.ops.items():
        if op[0] != service or st.calls_out * 2 > st.self_log.n:
            continue
        ratio, z, step = self_shift(inc, base, op)
        if z == 0.0 and ratio == 1.0:
            continue
        ratios.append(ratio)
        if ratio >= UNIFORM_RATIO and z >= UNIFORM_Z:
            slowed += 1
            steps.append(step)
    if not ratios:
        return 1.0, 0, 0, 0.0
    ratios.sort()
    steps.sort()
    return ratios[len(ratios) // 2], slowed, len(ratios), steps[len(steps) // 2] if steps else 0.0


def pooled_slowdown(inc: Shape, base: Shape, service: str) -> tuple[float, float, int]:
    """(geometric-mean ratio, z, operations compared) of a service's own self time, pooled
    over its operations: each span's log self time less its operation's baseline mean, so
    operations of different lengths and a changed mix of them compare alike. A service whose
    every operation ran only a handful of times still shows a slowdown when most of them
    moved together. Calls out (client spans, spans naming a peer) are left out: their time
    is the callee's. (1, 0, n) when fewer than UNIFORM_SHARE of the n operations rose."""
    pairs = [
        (st.self_log, b.self_log)
        for op, st in inc.ops.items()
        if op[0] == service
        and (b := base.ops.get(op)) is not None
        and not st.outbound
        and st.calls_out * 2 <= st.self_log.n
    ]
    return _pooled(pairs)


def pooled_calls_out(inc: Shape, base: Shape, service: str) -> tuple[float, float, int]:
    """(geometric-mean ratio, z, callees compared) of the gaps on a service's calls into
    other services (its client span less the callee's server span), pooled over its callees
    as `pooled_slowdown` pools operations. One callee's gap rising is that callee's door or
    the wire to it; every callee's at once is the caller: a starved process is late to send
    and to read what its calls return."""
    pairs = [
        (s1, s0)
        for edge, s1 in inc.gaps.items()
        if edge[0] == service and edge[1] != service and (s0 := base.gaps.get(edge)) is not None
    ]
    return _pooled(pairs)


def _pooled(pairs: list[tuple[Sample, Sample]]) -> tuple[float, float, int]:
    """(geometric-mean ratio, z, parts compared) of (incident, baseline) log samples taken
    together, each against its own baseline mean; (1, 0, n) when fewer than UNIFORM_SHARE
    of the n parts rose."""
    n0 = n1 = 0
    ss0 = ss1 = shift = 0.0
    parts: list[tuple[int, float]] = []
    for s1, s0 in pairs:
        if s1.n < POOL_MIN or s0.n < POOL_MIN:
            continue
        mean0, mean1 = s0.m.total / s0.n, s1.m.total / s1.n
        ss0 += max(0.0, s0.m.sq - s0.m.total * mean0)
        ss1 += max(0.0, s1.m.sq - s1.m.total * mean1)
        n0, n1 = n0 + s0.n, n1 + s1.n
        shift += s1.n * (mean1 - mean0)
        parts.append((s1.n, mean1 - mean0))
    if not parts:
        return 1.0, 0.0, 0
    # Contention slows most of them; one part's own trouble is not the service's.
    if sum(1 for _, x in parts if x >= math.log(UNIFORM_RATIO)) < UNIFORM_SHARE * len(parts):
        return 1.0, 0.0, len(parts)
    d = shift / n1
    # Within each part, plus how far the parts' own shifts scatter around d.
    ss1 += sum(n * (x - d) ** 2 for n, x in parts)
    se = max(POOL_SE_FLOOR, math.sqrt(ss0 / n0 / n0 + ss1 / n1 / n1))
    return math.exp(d), d / se, len(parts)
