"""The engine improves signals, not cases: no service or dataset name of the labelled data it
is measured on appears anywhere in incident/ (code, comments or docstrings)."""

from __future__ import annotations

import re
from pathlib import Path

from realfiles import FIXTURES, ROOT

from incident.ingest import load

DATASETS = ("nezha", "onlineboutique", "online-boutique", "trainticket", "train-ticket")
# Demo systems whose captures are fixtures here.
DEMOS = ("oteldemo", "smartthings")


def test_no_service_or_dataset_name_in_the_package() -> None:
    services: set[str] = set()
    for path in sorted((FIXTURES / "nezha").rglob("*.csv.gz")):
        services |= {s.service for s in load([str(path)]).spans}
    assert len(services) > 30  # both systems were read
    names = sorted(services | set(DATASETS) | set(DEMOS))
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(re.escape(n) for n in names) + r")(?![\w-])", re.I
    )
    found = [
        f"{path.relative_to(ROOT)}:{n}: {m.group(0)}"
        for path in sorted((ROOT / "incident").rglob("*"))
        if path.is_file() and path.suffix in (".py", ".md", ".txt", ".toml", ".json")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for m in pattern.finditer(line)
    ]
    assert found == []


def test_the_check_would_see_a_planted_name(tmp_path: Path) -> None:
    """The pattern matches names as words, in any case (so the test above can fail)."""
    pattern = re.compile(r"(?<![\w-])(currencyservice|ts-seat-service)(?![\w-])", re.I)
    assert pattern.search("if svc == 'CurrencyService':")
    assert pattern.search("blame ts-seat-service first")
    assert not pattern.search("ts-seat-service-v2")
