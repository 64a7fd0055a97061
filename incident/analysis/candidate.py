"""A root-cause candidate: one component (service or uninstrumented peer) with the evidence
gathered about it (added latency, new errors, changed behaviour), its scores, and the claims
that evidence supports. `rank` fills and scores candidates, `attribution` charges them added
latency, `describe` names what the top ones are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from incident.analysis.behaviour import (
    POOL_RATIO,
    POOL_Z,
    STRUCT_Z,
    UNIFORM_ALONE,
    UNIFORM_RATIO,
    UNIFORM_SHARE,
    Behaviour,
)
from incident.analysis.evidence import (
    MAJOR_LATENCY_SHARE,
    MIN_EVIDENCE,
    MIN_LATENCY_GROWTH,
    MIN_LATENCY_SHARE,
)
from incident.report import Category, CauseKind, Origin

# A structural change this clear (0..1) backs a "what it does changed" claim.
MIN_STRUCT_SCORE = 0.5
# A structural change counts for at most this much of a score (latency and errors, measured
# in time and failures, speak more directly).
STRUCT_WEIGHT = 0.5
# A hop shift of at least this many standard errors backs a "got slower" claim.
CLAIM_Z = 3.0


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
    # The sample sizes its failures were judged on: calls to it in the incident window and
    # in the baseline (0 with no baseline).
    calls: int = 0
    baseline_calls: int = 0
    timeouts: int = 0
    absorbed: float = 0.0  # share of its failures that the entry point absorbed
    score: float = 0.0
    lat_score: float = 0.0
    err_score: float = 0.0
    kind: CauseKind = "latency"
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
    # Weighted ms its slowest-growing hop added to each request that passes through it.
    lat_local: float = 0.0
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
    # Its own self time pooled over its operations, each against its own baseline mean
    # (see `behaviour.pooled_slowdown`): ratio, z and operations compared.
    pooled_ratio: float = 1.0
    pooled_z: float = 0.0
    pooled_ops: int = 0
    # ...or the gaps of its calls out, pooled over its callees (`behaviour.pooled_calls_out`):
    # then `pooled_ops` counts callees.
    pooled_calls: bool = False
    # The pooled rise, not its share of the requests' added time, sized its latency score.
    pooled_led: bool = False
    # Read as starved: its own operations slowed alike, or its own time rose as a whole
    # (pooled). `describe` sets it with the kind "saturation", which otherwise means
    # requests queueing inside it before its database calls.
    starved: bool = False
    # What looks the same as starvation where a starved service's added time sits: on the
    # network into it or on its side of its calls ("network", a delayed network), or before
    # its database calls ("pool", requests waiting for a connection); "" for neither.
    alike: Literal["", "network", "pool"] = ""

    @property
    def struct_part(self) -> float:
        """What its structural change weighs in its score."""
        return STRUCT_WEIGHT * self.struct_score

    @property
    def fails_more(self) -> bool:
        """Do its failures count as new: significantly more than the baseline's rate, or
        any at all with nothing to compare with?"""
        return self.err_new + self.user_new > 0

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
        """Did its own operations slow down alike (resource contention)? A service of one
        operation has no others to agree with: its one operation must rise further."""
        slowed, compared = self.uniform_slowed
        return (
            compared > 0
            and slowed >= UNIFORM_SHARE * compared
            and self.uniform_ratio >= (UNIFORM_RATIO if compared > 1 else UNIFORM_ALONE)
        )

    @property
    def waits_at_door(self) -> bool:
        """Most of its added time is on the network into it (between its callers' client
        spans and its own server spans), not in its own work or its calls."""
        return self.lat_net > 0 and self.lat_net >= self.lat_self + self.lat_peer + self.lat_net_own

    @property
    def slow_to_send(self) -> bool:
        """Its calls to every other service waited longer on its own side, and that pooled
        rise sized it: the caller itself is slow (starved, or its own network), not a
        callee."""
        return self.pooled_calls and self.pooled_led

    @property
    def pooled(self) -> bool:
        """Did its own time rise as a whole, clearly, even where each operation ran only a
        few times (resource contention on a rarely used service)?"""
        return self.pooled_z >= POOL_Z and self.pooled_ratio >= POOL_RATIO

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


def combined(lat: float, err: float, struct: float) -> float:
    """One score from its latency, failure and structure parts (each 0..1): independent
    pieces of evidence, any of which can make the cause."""
    return 1.0 - (1.0 - lat) * (1.0 - err) * (1.0 - struct)


def get_or_add(cands: dict[str, Candidate], name: str, ctype: str = "service") -> Candidate:
    """The candidate for `name`, added if new; a more specific `ctype` than "service" wins."""
    c = cands.get(name)
    if c is None:
        c = cands[name] = Candidate(name, ctype)
    elif ctype != "service" and c.ctype == "service":
        c.ctype = ctype
    return c
