"""The tools' names, descriptions and input schemas, beside the function that answers each.
The descriptions are written for the model: what the tool answers, and when to use it."""

from __future__ import annotations

from dataclasses import dataclass

from incident.tools import lookups, queries
from incident.tools.queries import Query
from incident.tools.schema import Schema, integer, obj, text


@dataclass(frozen=True)
class Definition:
    name: str
    description: str
    input_schema: Schema
    run: Query


_SERVICE = text("A service name as the report or list_services shows it.")
_LIMIT_20 = integer("Most items to return.", minimum=1, maximum=50, default=20)

DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "list_services",
        "Every service and uninstrumented dependency seen, with span, call and failure counts "
        "in the incident window and the baseline. Start here to learn the names.",
        obj(
            {
                "sort": text(
                    "Order of the rows.", enum=("errors", "spans", "name"), default="errors"
                ),
                "limit": integer("Most services to return.", minimum=1, maximum=100, default=30),
            }
        ),
        queries.list_services,
    ),
    Definition(
        "list_operations",
        "Operations (service + span name) with incident-window counts, error rates, p50/p99 "
        "latency, mean critical-path time per request, and the baseline's counts and p99.",
        obj(
            {
                "service": _SERVICE,
                "sort": text(
                    "Order of the rows.",
                    enum=("critical_path", "errors", "p99", "count"),
                    default="critical_path",
                ),
                "limit": _LIMIT_20,
            }
        ),
        queries.list_operations,
    ),
    Definition(
        "compare_operation",
        "One operation compared between the baseline and the incident: counts, error rate, "
        "p50/p95/p99, mean, spread, instances and versions, and its critical-path time.",
        obj(
            {"service": _SERVICE, "operation": text("The operation (span name).")},
            ("service", "operation"),
        ),
        queries.compare_operation,
    ),
    Definition(
        "compare_edge",
        "Calls from one service to another (or to a database or external peer) compared "
        "between baseline and incident: calls per trace, errors, the callee's time and the "
        "edge gap (network, queueing) as percentiles.",
        obj({"caller": _SERVICE, "callee": _SERVICE}, ("caller", "callee")),
        queries.compare_edge,
    ),
    Definition(
        "call_pattern",
        "Which operations of the caller call which operations of the callee, how often and "
        "how many fail, in the incident and the baseline (calls that stopped, started or "
        "repeat show here).",
        obj({"caller": _SERVICE, "callee": _SERVICE, "limit": _LIMIT_20}, ("caller", "callee")),
        queries.call_pattern,
    ),
    Definition(
        "critical_path",
        "The critical path of one trace: the spans the request waited on, with duration, "
        "self time and time on the path. Without trace_id: the report's representative "
        "slow request.",
        obj({"trace_id": text("A trace id (hex) from the report or another tool.")}),
        queries.critical_path,
    ),
    Definition(
        "service_failures",
        "The failures of one service: how many start there (and in the baseline), callers, "
        "operations, instances and versions, classification, and example failing spans.",
        obj(
            {
                "service": _SERVICE,
                "limit": integer("Most example spans.", minimum=1, maximum=20, default=5),
            },
            ("service",),
        ),
        lookups.service_failures,
    ),
    Definition(
        "search_logs",
        "Log message templates (variable parts masked) whose text or example contains the "
        "query, with counts in the incident and baseline, first and last seen, new or not.",
        obj(
            {
                "query": text("Words to look for (case-insensitive); omit for all."),
                "service": _SERVICE,
                "level": text(
                    "Lowest level to include.", enum=("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
                ),
                "limit": integer("Most templates.", minimum=1, maximum=50, default=10),
            }
        ),
        lookups.search_logs,
    ),
    Definition(
        "list_alerts",
        "The alerts read, with status, severity, service, start and end, runbook and whether "
        "the report takes each for a symptom or a cause.",
        obj(
            {
                "status": text("Only alerts with this status (e.g. firing, resolved)."),
                "service": _SERVICE,
            }
        ),
        lookups.list_alerts,
    ),
    Definition(
        "get_evidence",
        "One evidence item by id (E3 from the report, T1 from a tool), with the span's "
        "details when it is a span.",
        obj({"id": text("An evidence id such as E3 or T1.", max_length=12)}, ("id",)),
        lookups.get_evidence,
    ),
)
