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
