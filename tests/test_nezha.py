"""Real labelled faults from the Nezha dataset (MIT, IntelligentDDS/Nezha): one minute under an
injected network delay against a fault-free minute of the same system. The CSVs carry no span
kinds or status codes, so client/server edges are inferred from parent-child pairs across
services. Read in place from ../shared/realdata (skipped when absent)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from incident.analysis import diagnose
from incident.model import Bundle, Span

# Kubernetes pod names: <deployment>-<replica-set hash>-<pod suffix>.
_POD_SUFFIX = re.compile(r"-[0-9a-f]{6,10}-[0-9a-z]{5}$")


def load_nezha_csv(path: Path) -> Bundle:
    """TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration
    -> Spans: service from the pod name without its hashes, instance = the pod."""
    spans: list[Span] = []
    resources: dict[str, dict[str, str]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            pod = row["PodName"]
            service = _POD_SUFFIX.sub("", pod)
            res = resources.get(pod)
            if res is None:
                res = resources[pod] = {"service.name": service, "k8s.pod.name": pod}
            parent = row["ParentID"]
            spans.append(Span(
                row["TraceID"], row["SpanID"], None if parent in ("", "root") else parent,
                service, row["OperationName"], start_ns=int(row["StartTimeUnixNano"]),
                end_ns=int(row["EndTimeUnixNano"]), resource=res,
            ))
    bundle = Bundle(spans=spans)
    bundle.quality.spans = len(spans)
    return bundle


CASES = [
    ("traces/Nezha/rca_data/2022-08-22/trace/05_28_trace.csv",
     "traces/Nezha/construct_data/2022-08-23/trace/17_00_trace.csv", "currencyservice"),
    ("traces/Nezha/rca_data/2023-01-30/trace/13_23_trace.csv",
     "traces/Nezha/construct_data/2023-01-30/trace/11_39_trace.csv", "ts-travel-service"),
]


def test_pod_names_map_to_services(realdata: Path) -> None:
    """The helper strips replica-set and pod hashes and keeps the pod as the instance."""
    bundle = load_nezha_csv(realdata / CASES[0][0])
    services = {s.service for s in bundle.spans}
    assert "currencyservice" in services and "frontend" in services
    assert all(s.instance and s.instance.startswith(s.service) for s in bundle.spans[:100])


@pytest.mark.parametrize(("incident", "baseline", "label"), CASES,
                         ids=["online-boutique", "train-ticket"])
def test_labelled_network_delay_ranks_first(realdata: Path, incident: str, baseline: str,
                                            label: str) -> None:
    """The service the fault was injected into is the top root cause, as a network fault,
    and the edges into it explain most of the added latency."""
    report = diagnose(load_nezha_csv(realdata / incident), load_nezha_csv(realdata / baseline))
    top = report.root_causes[0]
    assert top.service == label, [(c.service, c.score) for c in report.root_causes]
    assert top.kind == "network"
    into = [r for r in report.latency_inflation if r.edge and r.edge.endswith("->" + label)]
    assert into and sum(r.share for r in into) > 0.5
