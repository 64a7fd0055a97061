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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from incident import log

if TYPE_CHECKING:
    from incident.analysis.triage import Triage
    from incident.digest import Digest
    from incident.model import Alert, Bundle
    from incident.redact import Redactor
    from incident.report import AIResult, Report

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


@dataclass
class Run:
    """The outcome of one diagnosis: the raw report and what the run shares."""

    report: Report
    redactor: Redactor | None = None
    digest: Digest | None = None
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
) -> Bundle:
    """Everything the command names, read into one Bundle (see `incident.ingest.load`)."""
    from incident.ingest import load as ingest_load

    paths = [*inputs, *logs, *alerts]
    size = _input_bytes(paths) if announce else 0
    chatty = size > _ANNOUNCE_BYTES
    started = time.monotonic()
    if chatty:
        log.info("input.reading", f"reading {size / 2**20:.0f} MB from {len(paths)} input(s)...")
    bundle = ingest_load(inputs, logs, alerts, progress=progress, max_bytes=max_bytes)
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


def diagnose(bundle: Bundle, baseline: Bundle | None = None) -> Report:
    """The deterministic report (pure analysis; no redaction, no network)."""
    from incident.analysis import diagnose as analyse

    started = time.monotonic()
    report = analyse(bundle, baseline)
    elapsed = time.monotonic() - started
    log.debug("analysis.done", f"analysed in {elapsed:.2f}s", seconds=round(elapsed, 3))
    return report


def explain(run: Run, options: AIOptions) -> None:
    """Fill `run.report.ai` (and the run's digest); never fails the run."""
    from incident.report import AIResult

    if options.enabled is False:
        run.report.ai = AIResult(status="skipped", reason="turned off with --no-ai")
        return
    if not os.environ.get("ANTHROPIC_API_KEY"):
        run.report.ai = AIResult(status="skipped", reason="ANTHROPIC_API_KEY is not set")
        if options.enabled is None:
            log.info(
                "ai.skipped",
                "AI step skipped: ANTHROPIC_API_KEY is not set (use --no-ai to silence this)",
            )
        else:
            log.warning(
                "ai.skipped", "AI step skipped: --ai was given but ANTHROPIC_API_KEY is not set"
            )
        return
    from incident.llm import DEFAULT_MODEL
    from incident.llm import explain as ask_claude

    digest = build_digest(run, options.max_digest_tokens)
    result = ask_claude(
        digest,
        model=options.model or DEFAULT_MODEL,
        timeout=options.timeout,
        use_cache=options.use_cache,
        # Only ids the model actually saw may be cited; the digest may leave some out.
        evidence_ids=set(digest.evidence_ids),
    )
    run.report.ai = result
    run._shared = None  # the shareable copy must carry the answer too
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
) -> Triage:
    """Alert triage, pointing at the engine's likely cause when there is evidence."""
    from incident.analysis.triage import triage as run_triage

    report = None
    if evidence is not None:
        evidence.alerts.extend(alerts)
        report = diagnose(evidence)
    return run_triage(alerts, notices, report, now_ns=now_ns or time.time_ns())


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
