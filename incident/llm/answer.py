"""The shape Claude must answer in: pydantic models whose JSON schema is sent as the
structured-output format, and against which every answer is validated."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswerHypothesis(_Strict):
    statement: str = Field(description="One falsifiable statement about the cause.")
    confidence: float = Field(ge=0.0, le=1.0, description="Calibrated probability, 0 to 1.")
    evidence: list[str] = Field(description="Evidence ids from the digest, e.g. E3.")


class AnswerAction(_Strict):
    action: str = Field(description="What to do, imperative.")
    risk: Literal["low", "medium", "high"]
    why: str


class Answer(_Strict):
    explanation: str
    hypotheses: list[AnswerHypothesis]
    blast_radius_review: str
    first_actions: list[AnswerAction] = Field(description="Ordered: do the first one first.")
    open_questions: list[str]
    narrative: str = Field(description="Postmortem narrative, two or three paragraphs.")


class TriageAnswerAction(_Strict):
    group: str = Field(description="The alert group's name, exactly as the triage shows it.")
    action: str = Field(description="What to do, imperative.")
    risk: Literal["low", "medium", "high"]
    why: str


class TriageAnswer(_Strict):
    """Claude's review of an alert triage: short, for the person who was just paged."""

    explanation: str = Field(description="What is probably going on, in at most 80 words.")
    blast_radius_review: str = Field(
        description="Who and what is affected, and whether the grouping looks right."
    )
    first_actions: list[TriageAnswerAction] = Field(
        description="For the firing groups, ordered: do the first one first."
    )
    open_questions: list[str]


class InvestigationAnswer(Answer):
    """The final answer of an investigation: the explanation's fields and a conclusion."""

    conclusion: Literal["explained", "inconclusive"] = Field(
        description="explained: the evidence singles out a cause; inconclusive: it does not."
    )
