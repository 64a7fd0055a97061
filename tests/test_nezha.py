"""Real labelled faults from the Nezha dataset (MIT, IntelligentDDS/Nezha): one minute under an
injected network delay against a fault-free minute of the same system. The CSVs carry no span
kinds or status codes, so client/server edges are inferred from parent-child pairs across
services. Gzip-compressed copies in tests/fixtures/nezha (attribution in its README)."""

from __future__ import annotations

from pathlib import Path

import pytest
from realfiles import real_path

from incident.analysis import diagnose
from incident.ingest import load
from incident.model import Bundle


def load_nezha_csv(path: Path) -> Bundle:
    """The CSV span table through the real reader (format "span-csv"), as a user would."""
    return load([str(path)])


CASES = [
    (
        "traces/Nezha/rca_data/2022-08-22/trace/05_28_trace.csv",
        "traces/Nezha/construct_data/2022-08-23/trace/17_00_trace.csv",
        "currencyservice",
    ),
    (
        "traces/Nezha/rca_data/2023-01-30/trace/13_23_trace.csv",
        "traces/Nezha/construct_data/2023-01-30/trace/11_39_trace.csv",
        "ts-travel-service",
    ),
]


def test_pod_names_map_to_services() -> None:
    """The reader strips replica-set and pod hashes and keeps the pod as the instance."""
    bundle = load_nezha_csv(real_path(CASES[0][0]))
    services = {s.service for s in bundle.spans}
    assert "currencyservice" in services and "frontend" in services
    assert all(s.instance and s.instance.startswith(s.service) for s in bundle.spans[:100])


@pytest.mark.parametrize(
    ("incident", "baseline", "label"), CASES, ids=["online-boutique", "train-ticket"]
)
def test_labelled_network_delay_ranks_first(incident: str, baseline: str, label: str) -> None:
    """The service the fault was injected into is the top root cause, as a network fault,
    and the edges into it explain most of the added latency."""
    report = diagnose(load_nezha_csv(real_path(incident)), load_nezha_csv(real_path(baseline)))
    top = report.root_causes[0]
    assert top.service == label, [(c.service, c.score) for c in report.root_causes]
    assert top.kind == "network"
    into = [r for r in report.latency_inflation if r.edge and r.edge.endswith("->" + label)]
    assert into and sum(r.share for r in into) > 0.5
