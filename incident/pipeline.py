"""One run, in the order the data flows: load -> diagnose -> (redact -> digest -> AI) ->
the documents to render. The command line, the benchmark and the tests all call these.

What is shared (the Markdown postmortem, the JSON report, triage in every format, the digest
and the AI request) is redacted by default with one `Redactor` per run, so a placeholder
means the same value everywhere. Local views (the terminal, `--no-redact`) use the raw
report, with the model's placeholders mapped back. No redaction work is done when nothing
leaves the machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from incident import log

if TYPE_CHECKING:
    from incident.analysis.assess import Assessment
    from incident.analysis.config import AnalysisConfig
    from incident.digest import Digest
    from incident.model import Alert, Bundle
    from incident.redact import Redactor
    from incident.report import AIResult, Report, TriageAI
    from incident.sources import ReportAdjuster, SourceRequest
    from incident.triage_report import Triage

Progress = Callable[[str, int, int], None]
# Inputs larger than this (in all) are announced on a terminal before they are read.
_ANNOUNCE_BYTES = 20 * 2**20


@dataclass(frozen=True)
class AIOptions:
    """The AI step's switches, the same on every command that can call Claude."""

    enabled: bool | None = None  # None: on when ANTHROPIC_API_KEY is set
    model: str | None = None
    timeout: float = 60.0
    max_digest_tokens: int = 8000
    use_cache: bool = True
    # Bounds of an investigation (`diagnose --investigate`, `ask`).
    max_turns: int = 8
    max_ai_tokens: int = 200_000
    max_cost: float = 1.00


@dataclass
class Run:
    """The outcome of one diagnosis: the raw report and what the run shares."""

    report: Report
    redactor: Redactor | None = None
    digest: Digest | None = None
    # The evidence the report was computed from, for the tools of an investigation.
    bundle: Bundle | None = None
    baseline: Bundle | None = None
    # What the report was written from (the tools read it instead of assessing again).
    assessment: Assessment | None = field(default=None, repr=False)
    _shared: Report | None = field(default=None, repr=False)

    def shareable(self) -> Report:
        """The report as it may leave the machine: every string redacted."""
        if self._shared is None:
            from incident.redact.outputs import redact_output

            red = self._redactor()
            shared = redact_output(self.report, red)
            shared.redactions = dict(red.counts)
            self._shared = shared
        return self._shared

    def local(self) -> Report:
        """The raw report for local eyes, the model's placeholders mapped back."""
        if self.redactor is None or self.report.ai.status != "ok":
            return self.report
        from incident.llm import restore_placeholders

        restored = restore_placeholders(self.report.ai, self.redactor)
        return self.report.model_copy(update={"ai": restored})

    def _redactor(self) -> Redactor:
        if self.redactor is None:
            from incident.redact import Redactor

            self.redactor = Redactor()
        return self.redactor


def load(
    inputs: Sequence[str],
    logs: Sequence[str] = (),
    alerts: Sequence[str] = (),
    *,
    progress: Progress | None = None,
    announce: bool = False,
    max_bytes: int | None = None,
    source: SourceRequest | None = None,
    adjusters: list[ReportAdjuster] | None = None,
) -> Bundle:
    """Everything the command names, read into one Bundle (see `incident.ingest.load`).

    Live source URLs among them are fetched with `source` (time window, service, query,
    limit; see `incident.sources`) and read by the same readers as files. With `adjusters`,
    a source may fetch whole only part of what it holds and append an adjuster carrying its
    store-wide numbers: pass the list on to `diagnose`.
    """

    from incident.ingest import load as ingest_load
    from incident.sources import Opener, SourceRequest, is_url

    paths = [*inputs, *logs, *alerts]
    remote = None
    if any(is_url(p) for p in paths):
        request = source or SourceRequest()
        remote = Opener(replace(request, max_bytes=max_bytes, progress=progress), adjusters)
    size = _input_bytes(paths) if announce else 0
    chatty = size > _ANNOUNCE_BYTES
    started = time.monotonic()
    if chatty:
        log.info("input.reading", f"reading {size / 2**20:.0f} MB from {len(paths)} input(s)...")
    bundle = ingest_load(
        inputs, logs, alerts, progress=progress, max_bytes=max_bytes, remote=remote
    )
    for item in bundle.inputs:
        log.debug(
            "input.loaded",
            f"{item.path}: {item.kind} ({item.format}), {item.records} records",
            path=item.path,
            kind=item.kind,
            format=item.format,
            records=item.records,
        )
    elapsed = time.monotonic() - started
    message = (
        f"read {len(bundle.spans):,} spans, {len(bundle.logs):,} log records and "
        f"{len(bundle.alerts):,} alerts in {elapsed:.1f}s"
    )
    (log.info if chatty else log.debug)("input.read", message, seconds=round(elapsed, 3))
    return bundle


def diagnose(
    bundle: Bundle,
    baseline: Bundle | None = None,
    *,
    adjust: Sequence[ReportAdjuster] = (),
    adjust_baseline: Sequence[ReportAdjuster] = (),
    config: AnalysisConfig | None = None,
) -> Report:
    """The deterministic report (pure analysis; no redaction). `adjust` and `adjust_baseline`
    (collected by `load` for the inputs and the baseline) then put the sources' store-wide
    numbers into it (a store may be queried again for them)."""
    run = analyse(bundle, baseline, adjust=adjust, adjust_baseline=adjust_baseline, config=config)
    return run.report


def analyse(
    bundle: Bundle,
    baseline: Bundle | None = None,
    *,
    adjust: Sequence[ReportAdjuster] = (),
    adjust_baseline: Sequence[ReportAdjuster] = (),
    config: AnalysisConfig | None = None,
) -> Run:
    """`diagnose`, kept as a Run with its evidence and assessment, for the AI step and the
    tools (which then need not assess the bundle again)."""
    from incident.analysis import assessed

    started = time.monotonic()
    assessment, report = assessed(bundle, baseline, config)
    for fix in adjust:
        fix(report, baseline=False)
    for fix in adjust_baseline:
        fix(report, baseline=True)
    elapsed = time.monotonic() - started
    log.debug("analysis.done", f"analysed in {elapsed:.2f}s", seconds=round(elapsed, 3))
    return Run(report, bundle=bundle, baseline=baseline, assessment=assessment)


def explain(run: Run, options: AIOptions) -> None:
    """Fill `run.report.ai` (and the run's digest); never fails the run."""
    if _skipped(run, options):
        return
    digest = build_digest(run, options.max_digest_tokens)
    _set_ai(run, _single_call(digest, options))


def investigate(run: Run, options: AIOptions, question: str | None = None) -> None:
    """Fill `run.report.ai` from an investigation through the tools (`ask` when `question`
    is given); never fails the run. The tools see `run.bundle` (and `run.baseline`) and
    answer with the run's placeholders. When the investigation fails, the single-call
    explanation is tried instead (its transcript kept), unless a token or cost budget ran
    out: then the AI part is left failed rather than spend more; the deterministic report
    stands either way."""
    if _skipped(run, options):
        return
    from incident.llm import DEFAULT_MODEL
    from incident.llm.investigate import Limits
    from incident.llm.investigate import investigate as ask_claude
    from incident.tools import Toolbox

    digest = build_digest(run, options.max_digest_tokens)
    if run.bundle is None:  # a caller without the evidence: no tools to offer
        _set_ai(run, _single_call(digest, options))
        return
    limits = Limits(
        max_turns=options.max_turns, max_tokens=options.max_ai_tokens, max_cost=options.max_cost
    )
    toolbox = Toolbox(
        run.bundle,
        run.report,
        run._redactor(),
        baseline=run.baseline,
        max_chars=limits.max_tool_chars,
        assessment=run.assessment,
    )
    result = ask_claude(
        digest,
        toolbox,
        question=question,
        model=options.model or DEFAULT_MODEL,
        timeout=options.timeout,
        limits=limits,
        redactor=run._redactor(),
    )
    trace = result.investigation
    if result.status != "ok" and trace is not None and trace.stopped not in ("tokens", "cost"):
        log.warning(
            "ai.investigation_failed",
            f"AI investigation failed: {result.reason}; asking for a single explanation instead",
            reason=result.reason,
        )
        fallback = _single_call(digest, options)
        result = fallback.model_copy(update={"investigation": trace})
    _set_ai(run, result)


def _skipped(run: Run, options: AIOptions) -> bool:
    """Whether the AI step is off; if so, `run.report.ai` says why (and a notice is logged)."""
    from incident.report import AIResult

    reason = _ai_off(options)
    if reason is not None:
        run.report.ai = AIResult(status="skipped", reason=reason)
    return reason is not None


def _ai_off(options: AIOptions, *, quiet: bool = False) -> str | None:
    """Why the AI step is off (a notice is logged), or None when it is on. `quiet`: a
    missing key without --ai is a debug message only."""
    if options.enabled is False:
        return "turned off with --no-ai"
    if os.environ.get("ANTHROPIC_API_KEY"):
        return None
    if options.enabled is None:
        (log.debug if quiet else log.info)(
            "ai.skipped",
            "AI step skipped: ANTHROPIC_API_KEY is not set (use --no-ai to silence this)",
        )
    else:
        log.warning(
            "ai.skipped", "AI step skipped: --ai was given but ANTHROPIC_API_KEY is not set"
        )
    return "ANTHROPIC_API_KEY is not set"


def _single_call(digest: Digest, options: AIOptions) -> AIResult:
    from incident.llm import DEFAULT_MODEL
    from incident.llm import explain as ask_claude

    return ask_claude(
        digest,
        model=options.model or DEFAULT_MODEL,
        timeout=options.timeout,
        use_cache=options.use_cache,
        # Only ids the model actually saw may be cited; the digest may leave some out.
        evidence_ids=set(digest.evidence_ids),
    )


def _set_ai(run: Run, result: AIResult) -> None:
    run.report.ai = result
    run._shared = None  # the shareable copy must carry the answer too
    inv = result.investigation
    if inv is not None:
        log.info(
            "ai.investigation",
            f"AI investigation: {len(inv.turns)} turns, {inv.tool_calls} tool calls "
            f"({inv.tool_errors} with errors), stopped: {inv.stopped}",
            turns=len(inv.turns),
            tool_calls=inv.tool_calls,
            tool_errors=inv.tool_errors,
            stopped=inv.stopped,
        )
    _log_ai(result)


def build_digest(run: Run, max_tokens: int) -> Digest:
    """The bounded, redacted text for the model (what `incident digest` prints)."""
    from incident.digest import build_digest as build

    if run.digest is None or run.digest.max_tokens != max_tokens:
        run.digest = build(run.report, max_tokens=max_tokens, redactor=run._redactor())
    return run.digest


def triage(
    alerts: list[Alert],
    notices: list[str],
    evidence: Bundle | None,
    *,
    now_ns: int | None = None,
    report: Report | None = None,
    config: AnalysisConfig | None = None,
) -> Triage:
    """Alert triage, pointing at the engine's likely cause when there is evidence (or the
    `report` already diagnosed from it, see `evidence_report`)."""
    from incident.analysis.triage import triage as run_triage

    if report is None:
        report = evidence_report(evidence, alerts, config)
    return run_triage(alerts, notices, report, now_ns=now_ns or time.time_ns())


def evidence_report(
    evidence: Bundle | None, alerts: Sequence[Alert], config: AnalysisConfig | None = None
) -> Report | None:
    """The engine's report on traces and logs read as triage evidence, with the alerts as
    its hints (the evidence bundle itself is left as it was, so it can serve again)."""
    if evidence is None:
        return None
    import msgspec

    hinted = msgspec.structs.replace(evidence, alerts=[*evidence.alerts, *alerts])
    return diagnose(hinted, config=config)


def review_triage(result: Triage, options: AIOptions, redactor: Redactor) -> TriageAI:
    """Claude's review of the triage (model output); never fails. Only the triage redacted
    with `redactor` is sent, fenced as telemetry; the answer keeps its placeholders (see
    `restore_triage_ai` for a local copy)."""
    from incident.report import TriageAI

    reason = _ai_off(options, quiet=True)
    if reason is not None:
        return TriageAI(status="skipped", reason=reason)
    import json

    from incident.llm import DEFAULT_MODEL
    from incident.llm.triage import fence_triage
    from incident.llm.triage import review_triage as ask_claude

    shared = shareable_triage(result.model_copy(update={"ai": None}), redactor)
    fenced = fence_triage(json.loads(shared.to_json()), options.max_digest_tokens)
    review = ask_claude(
        fenced,
        [g.name for g in shared.groups],
        model=options.model or DEFAULT_MODEL,
        timeout=options.timeout,
        use_cache=options.use_cache,
    )
    if review.status == "failed":
        log.warning(
            "ai.failed",
            f"AI step failed: {review.reason}; the triage is complete without it",
            reason=review.reason,
        )
    else:
        u = review.usage
        cost = f", about ${u.estimated_cost_usd:.4f}" if u.estimated_cost_usd is not None else ""
        log.info(
            "ai.done",
            f"AI: {review.model}{' (cached answer)' if review.cached else ''}: "
            f"{u.input_tokens} input + {u.output_tokens} output tokens{cost}",
            model=review.model,
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            estimated_cost_usd=u.estimated_cost_usd,
        )
    return review


def restore_triage_ai(review: TriageAI, redactor: Redactor) -> TriageAI:
    """A local copy of the review with this run's placeholders mapped back."""
    r = redactor.restore
    return review.model_copy(
        deep=True,
        update={
            "explanation": r(review.explanation),
            "blast_radius_review": r(review.blast_radius_review),
            "first_actions": [
                a.model_copy(update={"group": r(a.group), "action": r(a.action), "why": r(a.why)})
                for a in review.first_actions
            ],
            "open_questions": [r(q) for q in review.open_questions],
            "unknown_groups": [r(g) for g in review.unknown_groups],
        },
    )


def shareable_triage(result: Triage, redactor: Redactor | None = None) -> Triage:
    """The triage as it may be posted or pasted: every string redacted."""
    from incident.redact import Redactor
    from incident.redact.outputs import redact_output

    return redact_output(result, redactor or Redactor())


def _log_ai(result: AIResult) -> None:
    if result.status == "failed":
        log.warning(
            "ai.failed",
            f"AI step failed: {result.reason}; the deterministic report is complete",
            reason=result.reason,
        )
        return
    u = result.usage
    cost = f", about ${u.estimated_cost_usd:.4f}" if u.estimated_cost_usd is not None else ""
    cached = " (cached answer)" if result.cached else ""
    if result.reason:  # an answer that came without usable token counts says so
        cost += f" ({result.reason})"
    log.info(
        "ai.done",
        f"AI: {result.model}{cached}: {u.input_tokens} input + {u.output_tokens} output "
        f"tokens{cost}",
        model=result.model,
        cached=result.cached,
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        estimated_cost_usd=u.estimated_cost_usd,
    )


def _input_bytes(paths: list[str]) -> int:
    total = 0
    for path in paths:
        p = Path(path)
        try:
            if p.is_file():
                total += p.stat().st_size
            elif p.is_dir():
                total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        except OSError:
            continue  # the reader will say what is wrong with it
    return total
