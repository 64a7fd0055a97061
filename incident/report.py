"""The report of a diagnosis ("incident.report/1"): the contract that JSON output, the
renderers, the digest and scripts all read. Field names follow DESIGN.md; extensions are
additive. Times are ISO 8601 UTC strings ending in Z; durations are milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA = "incident.report/1"


def format_time(ns: int) -> str:
    """Nanoseconds since the epoch in the report's time format: ISO 8601 UTC, ms, and a Z."""
    dt = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Window(_Model):
    start: str | None = None
    end: str | None = None
    incident_start: str | None = None
    incident_end: str | None = None
    baseline: Literal["in-file", "file", "none"] = "none"
    baseline_start: str | None = None
    baseline_end: str | None = None

    @property
    def compared(self) -> bool:
        """Whether anything was compared with: without a baseline no time was "added"."""
        return self.baseline != "none"


# The closed vocabularies of the report, named once: the engine, the triage document and
# the renderers use these names, never their own copies.
VerdictStatus = Literal["incident", "no-incident", "inconclusive"]
# How a failure or cause behaves: passes (transient), stays (permanent), is absorbed by a
# fallback (partial), ends the request (fatal).
Category = Literal["transient", "permanent", "partial", "fatal"]
# Where a failure comes from.
Origin = Literal["infrastructure", "user", "dependency", "unknown"]
# What kind of cause a root cause is ("behaviour": what the component does changed, with
# no failure or slowdown to show it: calls it stopped, started or repeats; callers that stop
# right after its answer).
CauseKind = Literal[
    "latency",
    "error",
    "saturation",
    "network",
    "dependency",
    "deploy",
    "client-input",
    "behaviour",
]
# What an alert tells: a symptom users feel, an internal cause, a heartbeat, or unknown.
AlertRole = Literal["symptom", "cause", "heartbeat", "unknown"]
# Where an alert stands, in every tool's words normalised (see `analysis.classify`).
AlertStatus = Literal["firing", "acknowledged", "resolved", "unknown"]
Risk = Literal["low", "medium", "high"]
TimelineSource = Literal["alert", "trace", "log", "deploy", "analysis"]


class Verdict(_Model):
    """Whether the data shows an incident and whether its cause can be named: "incident"
    (one cause stands out), "no-incident" (nothing changed; `root_causes` is empty) or
    "inconclusive" (something is wrong but the evidence cannot decide; `alternatives`
    names the candidates still in play, and no headline culprit is given)."""

    status: VerdictStatus = "inconclusive"
    confidence: float = 0.0
    reason: str = ""
    alternatives: list[str] = Field(default_factory=list)


class RootCause(_Model):
    service: str
    operation: str | None = None
    component: str | None = None
    # One of CauseKind as the engine writes it; a string in the contract, so a report
    # from a later version with a new kind still reads (DESIGN: "latency|error|...").
    kind: str
    category: Category
    origin: Origin
    score: float
    instance: str | None = None
    version: str | None = None
    summary: str
    evidence: list[str] = Field(default_factory=list)


class Entrypoint(_Model):
    service: str
    operation: str
    requests: int = 0
    error_rate: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    baseline_requests: int = 0
    baseline_error_rate: float = 0.0
    baseline_p50_ms: float = 0.0
    baseline_p95_ms: float = 0.0
    baseline_p99_ms: float = 0.0
    business_critical: bool = False


class Impact(_Model):
    user_facing: bool = False
    traces: int = 0
    traces_failed: int = 0
    traces_slow: int = 0
    users_affected: int | None = None
    duration_s: float | None = None
    business_critical_hit: list[str] = Field(default_factory=list)
    entrypoints: list[Entrypoint] = Field(default_factory=list)


class LatencyInflation(_Model):
    service: str
    operation: str | None = None
    edge: str | None = None  # "caller->callee" for an RPC edge gap, else None
    baseline_ms: float
    incident_ms: float
    added_ms: float
    share: float
    # On no baseline request's critical path: its baseline_ms of 0 means absent, not fast.
    new_hop: bool = False


class Failure(_Model):
    service: str
    operation: str | None = None
    category: Category
    origin: Origin
    count: int
    user_facing: bool
    business_critical: bool = False
    baseline_count: int = 0
    example: str = ""
    # The sample sizes of `count` and `baseline_count`: calls to the component (its spans,
    # or the client calls naming it) in the incident window and in the baseline.
    calls: int = 0
    baseline_calls: int = 0
    # It fails significantly more often than in the baseline, or newly (the ranking's own
    # test); always false with nothing to compare with.
    rose: bool = False


class BlastRadius(_Model):
    services: list[str] = Field(default_factory=list)
    entrypoints: list[str] = Field(default_factory=list)
    share_of_requests: float = 0.0
    users_affected: int | None = None


class TimelineEvent(_Model):
    time: str
    source: TimelineSource
    event: str
    evidence: list[str] = Field(default_factory=list)


class Evidence(_Model):
    id: str
    kind: Literal["span", "log", "alert", "stat"]
    ref: str
    text: str


class PathStep(_Model):
    """One span on a critical path, times relative to the trace start."""

    service: str
    operation: str
    start_ms: float
    duration_ms: float
    self_ms: float
    depth: int = 0
    error: bool = False
    kind: str = ""


class CriticalPath(_Model):
    trace_id: str
    # "typical" when no request was slow: the path of an ordinary one, not a "slow" one.
    label: Literal["slow", "typical", "failed", "baseline"]
    entrypoint: str
    duration_ms: float
    steps: list[PathStep] = Field(default_factory=list)


class LogTemplate(_Model):
    template: str
    count: int
    level: str | None = None
    services: list[str] = Field(default_factory=list)
    first_seen: str | None = None
    last_seen: str | None = None
    baseline_count: int = 0
    new: bool = False
    surge: float | None = None  # incident rate / baseline rate
    example: str = ""
    evidence: str | None = None


class AlertSummary(_Model):
    source: str
    status: str
    name: str
    severity: str | None = None
    service: str | None = None
    starts_at: str | None = None
    ends_at: str | None = None
    role: AlertRole = "unknown"
    runbook: str | None = None
    summary: str | None = None
    evidence: str | None = None


class Action(_Model):
    action: str
    why: str
    risk: Risk = "low"
    source: Literal["rule", "runbook", "ai"] = "rule"


class DataQualityReport(_Model):
    spans: int = 0
    traces: int = 0
    orphans: int = 0
    duplicates: int = 0
    skipped: int = 0
    clock_skew_adjusted: int = 0
    repaired: int = 0
    logs: int = 0
    log_lines_skipped: int = 0
    alerts: int = 0
    warnings: list[str] = Field(default_factory=list)


class Hypothesis(_Model):
    statement: str
    confidence: float
    evidence: list[str] = Field(default_factory=list)
    unknown_evidence: list[str] = Field(default_factory=list)


class AIAction(_Model):
    action: str
    risk: Risk = "medium"
    why: str = ""


class Usage(_Model):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    estimated_cost_usd: float | None = None


class ToolCall(_Model):
    """One tool call of an investigation, as sent and answered (both redacted)."""

    tool: str
    arguments: str = ""  # the arguments as compact JSON, cut to a short excerpt
    result: str = ""  # the start of the answer the model was given
    result_chars: int = 0  # the answer's full length in characters
    is_error: bool = False
    evidence: list[str] = Field(default_factory=list)  # ids the answer cited or created


class InvestigationTurn(_Model):
    """One request of an investigation and what it asked for."""

    turn: int
    stop_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    note: str = ""  # the model's own text in this turn, cut
    calls: list[ToolCall] = Field(default_factory=list)


class Investigation(_Model):
    """The redacted transcript of `diagnose --investigate` or `ask`: how Claude drilled down
    through the tools, what it cost, and why it stopped."""

    status: Literal["ok", "failed"] = "ok"
    reason: str | None = None
    question: str | None = None
    # answered: the model submitted its answer; turns/tokens/cost/time: a budget ran out
    # and the answer was asked for; failed: no valid answer (see `reason`).
    stopped: Literal["answered", "turns", "tokens", "cost", "time", "failed"] = "answered"
    conclusion: Literal["explained", "inconclusive"] | None = None
    max_turns: int = 0
    max_tokens: int = 0
    max_cost_usd: float | None = None
    turns: list[InvestigationTurn] = Field(default_factory=list)
    tool_calls: int = 0
    tool_errors: int = 0
    usage: Usage = Field(default_factory=Usage)
    evidence: list[Evidence] = Field(default_factory=list)  # created by the tools (T1, ...)


class _ModelCall(_Model):
    """How a call to Claude went: what the report's and the triage's AI parts share."""

    status: Literal["ok", "skipped", "failed"] = "skipped"
    reason: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    cached: bool = False
    usage: Usage = Field(default_factory=Usage)


class AIResult(_ModelCall):
    explanation: str = ""
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    blast_radius_review: str = ""
    first_actions: list[AIAction] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    narrative: str = ""
    unknown_evidence: list[str] = Field(default_factory=list)
    # Set by `diagnose --investigate` and `ask` (also when the answer fell back to one call).
    investigation: Investigation | None = None


class TriageAIAction(_Model):
    group: str
    action: str
    risk: Risk = "medium"
    why: str = ""


class TriageAI(_ModelCall):
    """Claude's part of a triage (model output): a short explanation, a review of the
    blast radius and first actions for the firing groups. `unknown_groups` lists group
    names the model used that the triage does not have (shown as such, not as fact)."""

    explanation: str = ""
    blast_radius_review: str = ""
    first_actions: list[TriageAIAction] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    unknown_groups: list[str] = Field(default_factory=list)


class Report(_Model):
    schema_: str = Field(default=SCHEMA, alias="schema")
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    window: Window = Field(default_factory=Window)
    verdict: Verdict = Field(default_factory=Verdict)
    root_causes: list[RootCause] = Field(default_factory=list)
    impact: Impact = Field(default_factory=Impact)
    latency_inflation: list[LatencyInflation] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)
    blast_radius: BlastRadius = Field(default_factory=BlastRadius)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    data_quality: DataQualityReport = Field(default_factory=DataQualityReport)
    redactions: dict[str, int] = Field(default_factory=dict)
    ai: AIResult = Field(default_factory=AIResult)
    # Extensions beyond the DESIGN.md minimum, read by the renderers and the digest.
    critical_paths: list[CriticalPath] = Field(default_factory=list)
    log_templates: list[LogTemplate] = Field(default_factory=list)
    alerts: list[AlertSummary] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    inputs: list[str] = Field(default_factory=list)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)
