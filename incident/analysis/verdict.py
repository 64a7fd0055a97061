"""The verdict: is there an incident in this data, and can the evidence name its cause?

Decided once, from the ranked candidates and the windows, before any section is written:

- "no-incident": nothing changed that a responder should look at. Against a baseline (a
  file, or the calm part of the export before a change point): no candidate carries a
  claim that holds (significantly new failures, a latency rise that explains a real share
  of the added time, a deploy) and earns a score worth a headline by it (`held_score`),
  and the entry points neither slowed down nor failed more.
  Without anything to compare with (no change over the whole export): few requests fail
  or are slow, and no alert fires.
- "inconclusive": something is wrong but the evidence cannot pick one cause: the leading
  candidates are tied, the best is weak, alerts fire while the traces show no change, or
  requests fail or are slow throughout an export that has no calm period to compare with.
- "incident": one candidate stands out; `confidence` says how far to trust it.

Confidence is a calibrated function of the leading score and its margin over the next
candidate (see `confidence`), measured on labelled real faults (bench/accuracy.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from incident.analysis.candidate import Candidate, combined
from incident.analysis.evidence import plural
from incident.analysis.signals import WindowStats
from incident.report import Verdict

# The best candidate must lead the next by this factor, else they are tied.
TIE_RATIO = 0.8
# Below this score no candidate is worth a headline.
WEAK_SCORE = 0.1
# Below this confidence a first guess is as likely drift as a fault (calibrated on the
# labelled faults of bench/accuracy.py, see README "Accuracy").
WEAK_CONFIDENCE = 0.25
# Failing or slow requests, without anything to compare with, past which the export cannot
# be a system at rest whatever its history (steady background errors, and requests over the
# fixed slow threshold of a calm system, stay well below it).
STEADY_FAILURE_RATE = 0.5
MIN_REQUESTS = 20
# How far an entry point's latency or failure rate must move to be a change.
LATENCY_RISE = 1.25
Z_SIGNIFICANT = 3.0
ALTERNATIVES = 3
# A cause resting mainly on a changed call pattern (no new failure or deploy, a slowdown
# that weighs less than the changed calls) heads an incident only from this confidence: on
# the labelled faults such first guesses between 0.26 and 0.45 were right 5 times in 14
# (bench/accuracy.py).
BEHAVIOUR_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Shift:
    """How the requests as a whole moved from the baseline to the incident window."""

    slower: bool
    failing_more: bool
    text: str


def entry_shift(inc: WindowStats, base: WindowStats | None) -> Shift:
    """Did the entry points get slower or fail more, beyond chance?"""
    if base is None or not base.n_traces or not inc.n_traces:
        return Shift(False, False, "")
    table, btable = inc.table, base.table
    now = [table.end[table.roots[k]] - table.start[table.roots[k]] for k in inc.traces]
    before = [btable.end[btable.roots[k]] - btable.start[btable.roots[k]] for k in base.traces]
    slower = False
    parts: list[str] = []
    if len(now) >= 5 and len(before) >= 5:
        m1, m0 = sum(now) / len(now), sum(before) / len(before)
        var0 = sum((x - m0) ** 2 for x in before) / max(1, len(before) - 1)
        var1 = sum((x - m1) ** 2 for x in now) / max(1, len(now) - 1)
        se = math.sqrt(var0 / len(before) + var1 / len(now)) or 1.0
        if m0 > 0 and m1 >= LATENCY_RISE * m0 and (m1 - m0) / se >= Z_SIGNIFICANT:
            slower = True
            parts.append(f"requests took {m1 / m0:.1f}x as long on average")
    f1, f0 = inc.failed_traces, base.failed_traces
    n1, n0 = inc.n_traces, base.n_traces
    p1, p0 = f1 / n1, f0 / n0
    pooled = (f1 + f0) / (n1 + n0)
    se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n1 + 1 / n0))
    failing = p1 - p0 >= 0.01 and (p1 - p0) / se >= Z_SIGNIFICANT and f1 >= 3
    if failing:
        parts.append(f"{f1} of {n1} requests failed ({p1:.0%}, was {p0:.0%} of {n0})")
    return Shift(slower, failing, "; ".join(parts))


def holds(c: Candidate) -> bool:
    """Does the candidate carry a claim that survives the evidence bar?"""
    return bool(
        c.fails_more
        or c.kind == "deploy"
        or c.latency_claim_holds
        or c.pooled
        or c.behaviour_claim_holds
        or c.symptom_of
    )


def held_score(c: Candidate) -> float:
    """The part of its score that its holding claims earn: a structural change whose claim
    fails and a slowdown that does not hold add to the score but are no claim to stand on."""
    if c.kind == "deploy" or c.symptom_of:
        return c.score
    lat = c.lat_score if c.latency_claim_holds or c.pooled else 0.0
    err = c.err_score if c.fails_more else 0.0
    struct = c.struct_part if c.behaviour_claim_holds else 0.0
    return combined(lat, err, struct)


def _behaviour_led(c: Candidate) -> bool:
    """Does its claim rest mainly on what it does: no failure, deploy or contention, and a
    slowdown, if any, that weighs less in its score than the changed calls?"""
    return (
        c.behaviour_claim_holds
        and not c.fails_more
        and c.kind != "deploy"
        and not c.pooled
        and not c.symptom_of
        and (not c.latency_claim_holds or c.lat_score < c.struct_part)
    )


def confidence(top: Candidate, runner_up: Candidate | None) -> float:
    """How far to trust the leading candidate: its score, discounted when the next one is
    close. A monotone map, so ranking by confidence ranks by evidence."""
    margin = 1.0 - (runner_up.score / top.score if runner_up and top.score > 0 else 0.0)
    return round(max(0.05, min(0.95, top.score * (0.5 + 0.5 * margin))), 2)


def _alternative(c: Candidate) -> str:
    fact = c.facts[0] if c.facts else f"score {c.score:.2f}"
    return f"{c.component}: {fact}"


def decide(
    causes: list[Candidate],
    inc: WindowStats,
    base: WindowStats | None,
    *,
    fell_back: bool,
    alerts_firing: int,
    error_logs: int = 0,
    slow: tuple[int, float] = (0, 0.0),
) -> Verdict:
    """The verdict for these ranked causes (best first) and windows; `slow` is how many
    incident requests were slow and the fixed threshold (ms) that judged them when there
    is nothing to compare with."""
    firing = f"{alerts_firing} alert{'s' if alerts_firing != 1 else ''} firing"
    if not inc.n_traces:
        return _without_traces(causes, firing if alerts_firing else "", error_logs)
    if base is None:
        return _without_baseline(causes, inc, fell_back, firing if alerts_firing else "", slow)
    return _against_baseline(causes, inc, base, fell_back, firing if alerts_firing else "")


def _alternatives(causes: list[Candidate], start: int = 0) -> list[str]:
    return [_alternative(c) for c in causes[start:ALTERNATIVES]]


def _without_traces(causes: list[Candidate], firing: str, error_logs: int) -> Verdict:
    """Logs and alerts alone can say something is wrong, never which component changed."""
    if firing or error_logs:
        logged = plural(error_logs, "error log line") if error_logs else ""
        what = ", ".join(part for part in (firing, logged) if part)
        return Verdict(
            status="inconclusive",
            reason=f"{what}, but no traces to tell which component changed",
            alternatives=_alternatives(causes),
        )
    return Verdict(
        status="no-incident",
        confidence=0.3,
        reason="no traces, no error logs and no firing alerts were read",
    )


def _without_baseline(
    causes: list[Candidate],
    inc: WindowStats,
    fell_back: bool,
    firing: str,
    slow: tuple[int, float],
) -> Verdict:
    """No baseline and no change point: only comparisons inside the export can decide."""
    located = next((c for c in causes[:1] if c.instance or c.version), None)
    if located is not None and not fell_back:
        # Failures on one instance or one version while its peers are healthy: a
        # comparison inside the export itself, which needs no baseline.
        return Verdict(
            status="incident",
            confidence=confidence(located, causes[1] if len(causes) > 1 else None),
            reason=f"{located.component} stands out: {located.concentration}",
            alternatives=_alternatives(causes, 1),
        )
    n = inc.n_traces
    failing = sum(o.errors for o in inc.origins.values())
    why = ""
    if n >= MIN_REQUESTS and inc.failed_traces >= STEADY_FAILURE_RATE * n:
        why = (
            f"{inc.failed_traces} of {n} requests failed throughout the export and there is "
            "no calm period or baseline to compare with, so the cause cannot be told from "
            "the background"
        )
    elif n >= MIN_REQUESTS and slow[0] >= STEADY_FAILURE_RATE * n:
        why = (
            f"{slow[0]} of {n} requests took longer than {slow[1]:,.0f} ms throughout the "
            "export and there is no calm period or baseline to compare with, so neither "
            "the cause nor whether this is this system's normal can be told (a fault-free "
            "export as --baseline would tell)"
        )
    elif firing:
        why = (
            f"{firing}, but the traces show no change over the export and there is no "
            "baseline to compare with"
        )
    elif n < MIN_REQUESTS and failing:
        why = (
            f"{plural(failing, 'failure')} in {plural(n, 'request')}: too few requests to "
            "tell an incident from normal behaviour, and no baseline to compare with"
        )
    if why:
        return Verdict(status="inconclusive", reason=why, alternatives=_alternatives(causes))
    steady = f", {inc.failed_traces} failed at a steady rate" if inc.failed_traces else ""
    return Verdict(
        status="no-incident",
        confidence=0.6 if n >= MIN_REQUESTS else 0.3,
        reason=(
            f"no change in latency or failures across the export ({plural(n, 'request')}"
            f"{steady}) and no alert firing; a fault present for the whole export would "
            "need --baseline to show"
        ),
    )


def _against_baseline(
    causes: list[Candidate], inc: WindowStats, base: WindowStats, fell_back: bool, firing: str
) -> Verdict:
    """A baseline to compare with: a claim that holds and leads clearly is the incident."""
    # A claim that holds but adds almost nothing (a few ms of a noisy hop) is no incident.
    strong = (
        [c for c in causes if holds(c) and held_score(c) >= WEAK_SCORE] if not fell_back else []
    )
    if not strong:
        shift = entry_shift(inc, base)
        if shift.slower or shift.failing_more or firing:
            return Verdict(
                status="inconclusive",
                reason=f"{shift.text or firing}, but no single component explains it "
                "against the baseline",
                alternatives=_alternatives(causes),
            )
        return Verdict(
            status="no-incident",
            confidence=0.7 if inc.n_traces >= MIN_REQUESTS else 0.4,
            reason=(
                "nothing changed against the baseline: no component fails more, no hop got "
                "slower by a share worth reading, and the entry points kept their latency and "
                "failure rate"
            ),
        )
    top = strong[0]
    runner = next((c for c in strong[1:] if c.component != top.component), None)
    if confidence(top, runner) < WEAK_CONFIDENCE:
        # On the labelled faults, first guesses this weak were right 2 times in 12: as
        # likely the drift between two calm periods as a fault. Say so; name no culprit.
        shift = entry_shift(inc, base)
        seen = shift.text or firing or "no change at the entry points"
        return Verdict(
            status="inconclusive",
            confidence=confidence(top, runner),
            reason=f"{seen}; the evidence for any one component is weak (best: "
            f"{top.component}, score {top.score:.2f}), of the size two calm periods differ by",
            alternatives=[_alternative(c) for c in strong[:ALTERNATIVES]],
        )
    if _behaviour_led(top) and confidence(top, runner) < BEHAVIOUR_CONFIDENCE:
        return Verdict(
            status="inconclusive",
            confidence=confidence(top, runner),
            reason=(
                f"what {top.component} does changed ({top.facts[0] if top.facts else 'its calls'}"
                "), but nothing fails more"
                + (" and its slowdown weighs less" if top.latency_claim_holds else " or got slower")
                + ": a changed call pattern alone can be the data or the request mix, and this "
                "evidence cannot confirm a fault"
            ),
            alternatives=[_alternative(c) for c in strong[:ALTERNATIVES]],
        )
    if runner is not None and runner.score >= TIE_RATIO * top.score:
        tied = [c for c in strong if c.score >= TIE_RATIO * top.score][:ALTERNATIVES]
        return Verdict(
            status="inconclusive",
            confidence=confidence(top, runner),
            reason=(
                f"{len(tied)} candidates explain the change about equally "
                f"({', '.join(f'{c.component} {c.score:.2f}' for c in tied)}); the evidence "
                "cannot decide between them"
            ),
            alternatives=[_alternative(c) for c in tied],
        )
    rest = [c for c in strong[1:] if c.component != top.component][: ALTERNATIVES - 1]
    why = top.facts[0] if top.facts else "highest score"
    if top.concentration and top.concentration != why:
        # Where it fails (one instance, one version) is what a responder acts on first.
        why = f"{why}; {top.concentration}"
    return Verdict(
        status="incident",
        confidence=confidence(top, runner),
        reason=f"{top.component} stands out: {why}",
        alternatives=[_alternative(c) for c in rest],
    )
