"""One `incident mcp` session without the protocol: the commands (`diagnose`, `inspect`,
`triage`, `digest`) over files under the roots named at start, and the Toolbox tools over
the session's most recent diagnosis. `incident/mcp.py` only adapts this to the MCP SDK.

Every path is resolved (symbolic links and `..` followed) and must lie under a root; a
directory is refused when any file under it resolves outside the roots. Relative paths are
taken from the first root. Each diagnosis gets one Redactor, so the `diagnose` answer, its
`digest` and every tool answer after it use the same placeholders. Every answer is redacted
and capped; problems come back as errors (text, is_error=True), never as exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from incident import pipeline
from incident.errors import IncidentError, UsageError
from incident.ingest.sources import expand
from incident.model import Bundle
from incident.redact import Redactor
from incident.tools import Toolbox, ToolSpec, tool_specs
from incident.tools.fit import clip_text, fit
from incident.tools.schema import ArgumentError, Schema, check, integer, obj, text

# Characters per answer; the digest is bounded by its own token budget instead.
DEFAULT_MAX_CHARS = 6000


class Refused(Exception):
    """A request the session will not carry out; the message is one line."""


def _paths(description: str) -> Schema:
    return {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": 4096},
        "minItems": 1,
        "maxItems": 64,
        "description": description,
    }


_FILES = "Files or directories under the server's --root folders (relative to the first root)."
_PATHS = _paths("Trace, log or alert files or directories. " + _FILES)

COMMANDS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "diagnose",
        "Diagnose an incident from exported traces, logs and alerts: verdict, ranked root "
        "causes with evidence ids, impact and blast radius (redacted). The drill-down tools "
        "then answer about this diagnosis.",
        obj(
            {
                "paths": _PATHS,
                "logs": _paths("Extra log files. " + _FILES),
                "alerts": _paths("Extra alert payload files. " + _FILES),
                "baseline": _paths("A fault-free export to compare against. " + _FILES),
            },
            ("paths",),
        ),
    ),
    ToolSpec(
        "inspect",
        "What the files hold: formats detected, record counts, services, time range and "
        "data-quality warnings.",
        obj({"paths": _PATHS}, ("paths",)),
    ),
    ToolSpec(
        "triage",
        "Triage an alert payload (any supported pager or monitoring tool): what fires, "
        "grouped, symptom or cause, first actions; traces, when given, point at the cause.",
        obj(
            {
                "payload_path": text("The alert payload file. " + _FILES, max_length=4096),
                "traces": _paths("Traces to point at the likely cause. " + _FILES),
            },
            ("payload_path",),
        ),
    ),
    ToolSpec(
        "digest",
        "The bounded, redacted text about the incident that would be sent to a model.",
        obj(
            {
                "paths": _PATHS,
                "max_tokens": integer(
                    "Upper bound on the digest size.", minimum=500, maximum=16000, default=4000
                ),
            },
            ("paths",),
        ),
    ),
)


@dataclass(frozen=True)
class Reply:
    text: str
    is_error: bool = False


class Session:
    """The state of one client connection: the roots and the latest diagnosis."""

    def __init__(self, roots: Sequence[str | Path], *, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        resolved = []
        for root in roots:
            p = Path(root).expanduser().resolve()
            if not p.is_dir():
                raise UsageError(f"--root {root}: not a directory")
            resolved.append(p)
        if not resolved:
            raise UsageError("at least one --root directory is needed")
        self.roots = resolved
        self.max_chars = max_chars
        self.toolbox: Toolbox | None = None
        self._commands: dict[str, Callable[[dict[str, Any]], Reply]] = {
            "diagnose": self._diagnose,
            "inspect": self._inspect,
            "triage": self._triage,
            "digest": self._digest,
        }
        self._specs = {s.name: s for s in COMMANDS}
        for spec in tool_specs():
            self._specs.setdefault(spec.name, spec)

    def specs(self) -> list[ToolSpec]:
        return list(self._specs.values())

    def call(self, name: str, arguments: Mapping[str, Any] | None) -> Reply:
        spec = self._specs.get(name)
        if spec is None:
            return Reply(f"unknown tool {name[:60]!r}; tools: {', '.join(self._specs)}", True)
        command = self._commands.get(name)
        if command is None:
            if self.toolbox is None:
                return Reply(f"{name}: no diagnosis yet in this session; call diagnose first", True)
            answer = self.toolbox.call(name, arguments or {})
            return Reply(answer.content, answer.is_error)
        try:
            return command(check(spec.input_schema, arguments))
        except (ArgumentError, Refused) as exc:
            return Reply(f"{name}: {exc}", True)
        except IncidentError as exc:  # unreadable or unrecognised input, named by path
            line = " ".join(Redactor().redact_text(str(exc)).split())
            return Reply(clip_text(f"{name}: {line}", self.max_chars), True)

    # -- paths -------------------------------------------------------------------------------

    def allowed(self, raw: str) -> str:
        """The resolved path, if it (and everything under it) lies under a root."""
        if "\x00" in raw:
            raise Refused("a path holds a NUL character")
        p = Path(raw).expanduser()
        if not p.is_absolute():
            p = self.roots[0] / p
        resolved = p.resolve()
        if not self._inside(resolved):
            raise Refused(f"{raw!r} is outside the allowed roots")
        if not resolved.exists():
            raise Refused(f"{raw!r} does not exist")
        if resolved.is_dir():
            _, files = expand(str(resolved))
            outside = [f for f in files if not self._inside(Path(f).resolve())]
            if outside:
                raise Refused(f"{raw!r} holds a link that leads outside the allowed roots")
        return str(resolved)

    def _inside(self, p: Path) -> bool:
        return any(p == root or root in p.parents for root in self.roots)

    def _all(self, raws: Sequence[str] | None) -> list[str]:
        return [self.allowed(r) for r in raws or ()]

    # -- commands ----------------------------------------------------------------------------

    def _diagnose(self, args: dict[str, Any]) -> Reply:
        paths, logs, alerts = (
            self._all(args["paths"]),
            self._all(args.get("logs")),
            self._all(args.get("alerts")),
        )
        base_paths = self._all(args.get("baseline"))
        bundle = pipeline.load(paths, logs, alerts)
        base = pipeline.load(base_paths) if base_paths else None
        run = self._start(bundle, base)
        report = run.shareable()
        blast = report.blast_radius
        summary = {
            "verdict": report.verdict.model_dump(),
            "root_causes": [rc.model_dump(exclude_none=True) for rc in report.root_causes],
            "impact": report.impact.model_dump(exclude={"entrypoints", "business_critical_hit"})
            | {"entrypoints": [e.model_dump() for e in report.impact.entrypoints[:5]]},
            "blast_radius": {
                "services": blast.services[:20],
                "services_in_all": len(blast.services),
                "entrypoints": blast.entrypoints[:10],
                "share_of_requests": blast.share_of_requests,
            },
            "window": report.window.model_dump(exclude_none=True),
            "data_quality": {
                "spans": report.data_quality.spans,
                "traces": report.data_quality.traces,
                "logs": report.data_quality.logs,
                "alerts": report.data_quality.alerts,
                "warnings": report.data_quality.warnings[:5],
            },
            "redactions": report.redactions,
            "next": "drill down with list_services, compare_operation, service_failures, "
            "critical_path, search_logs, get_evidence ...",
        }
        return self._fit(summary, "root_causes")

    def _inspect(self, args: dict[str, Any]) -> Reply:
        from incident.analysis.inventory import inventory

        bundle = pipeline.load(self._all(args["paths"]))
        inv = Redactor().redact_value(json.loads(json.dumps(inventory(bundle), default=str)))
        return self._fit(_trim_lists(inv, 25), "alerts")

    def _triage(self, args: dict[str, Any]) -> Reply:
        payload = self.allowed(args["payload_path"])
        traces = self._all(args.get("traces"))
        bundle = pipeline.load([], (), [payload])
        evidence = pipeline.load(traces) if traces else None
        result = pipeline.triage(bundle.alerts, bundle.notices, evidence)
        shared = pipeline.shareable_triage(result, Redactor())
        return self._fit(shared.model_dump(mode="json", by_alias=True), "groups")

    def _digest(self, args: dict[str, Any]) -> Reply:
        bundle = pipeline.load(self._all(args["paths"]))
        run = self._start(bundle, None)
        result = pipeline.build_digest(run, args["max_tokens"])
        # The digest is held to its token budget; the character cap is a backstop.
        return Reply(clip_text(result.text, max(self.max_chars, 6 * args["max_tokens"])))

    def _start(self, bundle: Bundle, base: Bundle | None) -> pipeline.Run:
        """A new diagnosis, which the drill-down tools answer about from now on."""
        run = pipeline.analyse(bundle, base)
        self.toolbox = Toolbox(
            bundle,
            run.report,
            run._redactor(),
            baseline=base,
            max_chars=self.max_chars,
            assessment=run.assessment,
        )
        return run

    def _fit(self, payload: dict[str, Any], items_key: str) -> Reply:
        content, _ = fit(payload, items_key, self.max_chars)
        return Reply(content)


def _trim_lists(doc: dict[str, Any], n: int) -> dict[str, Any]:
    """Top-level lists past `n` items cut to `n`, with `<key>_omitted` saying how many went."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, list) and len(value) > n:
            out[key] = value[:n]
            out[f"{key}_omitted"] = len(value) - n
        else:
            out[key] = value
    return out
