"""The triage document ("incident.triage/1"): what `incident triage` prints as JSON and what
its renderers, the webhook receiver and scripts read. Beside `report`, whose vocabularies
(alert role and status, cause kind, category) it shares; extensions are additive.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from incident.report import AlertRole, AlertStatus, Category, TriageAI

SCHEMA = "incident.triage/1"


class TriageAction(BaseModel):
    """One suggested first step, with where the suggestion came from."""

    model_config = ConfigDict(extra="forbid")

    action: str
    why: str = ""
    source: Literal["runbook", "rule", "report"] = "rule"
    url: str | None = None
    # A shell command to copy, when the step is one (kubectl ...).
    command: str | None = None


class AlertGroup(BaseModel):
    """Alerts sharing a name and a service, reduced to what an on-call engineer reads first."""

    model_config = ConfigDict(extra="forbid")

    name: str
    service: str | None = None
    status: AlertStatus
    severity: str | None = None
    severity_rank: int = -1
    count: int
    firing: int = 0
    resolved: int = 0
    sources: list[str] = Field(default_factory=list)
    started_at: str | None = None
    ended_at: str | None = None
    # Seconds from the earliest start to `now` (still firing) or to the last end (resolved).
    firing_for_s: float | None = None
    # Still firing after STALE_DAYS: more likely a forgotten or replayed alert than news.
    stale: bool = False
    role: AlertRole = "unknown"
    role_reason: str = ""
    summary: str | None = None
    instances: list[str] = Field(default_factory=list)
    runbooks: list[str] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    actions: list[TriageAction] = Field(default_factory=list)
    # True when the diagnosis names this group's service as the likely cause.
    matches_likely_cause: bool = False


class LikelyCause(BaseModel):
    """The diagnosis' best-ranked root cause, when traces or logs were given too."""

    model_config = ConfigDict(extra="forbid")

    service: str
    operation: str | None = None
    kind: str  # as RootCause.kind
    category: Category
    score: float
    summary: str
    evidence: list[str] = Field(default_factory=list)


class Triage(BaseModel):
    """The whole triage ("incident.triage/1"): a stable document for scripts and renderers."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str = Field(default=SCHEMA, alias="schema")
    now: str | None = None
    headline: str = ""
    firing: int = 0
    resolved: int = 0
    groups: list[AlertGroup] = Field(default_factory=list)
    likely_cause: LikelyCause | None = None
    notices: list[str] = Field(default_factory=list)
    ai: TriageAI | None = None  # Claude's review (model output), when asked for

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)
