"""Where each real exported file used by the tests lives.

Files under MIT or Apache-2.0 are copied into `tests/fixtures/` (attribution in the README
beside each copy), so the suite stands alone on a fresh clone. Files whose licence does not
allow copying are read in place from `../shared/realdata`; a test that reads them carries
`@pytest.mark.realdata` and is skipped, saying why, when that folder is not beside the
checkout (CI has it and runs them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REALDATA = ROOT.parent / "shared" / "realdata"

# path under ../shared/realdata -> the copy under tests/fixtures
COPIED: dict[str, str] = {
    "alerts/alertmanager/prom_post_request.json": "alerts/prom_post_request.json",
    "alerts/alertmanager/card-grafana-inspired-payload.json": (
        "alerts/card-grafana-inspired-payload.json"
    ),
    "alerts/alertmanager/holmesgpt_10_KubeDeploymentReplicasMismatch_issue_data.json": (
        "alerts/holmesgpt_10_KubeDeploymentReplicasMismatch_issue_data.json"
    ),
    "alerts/alertmanager/holmesgpt_11_KubePodCrashLooping_issue_data.json": (
        "alerts/holmesgpt_11_KubePodCrashLooping_issue_data.json"
    ),
    "alerts/alertmanager/holmesgpt_13_Watchdog_issue_data.json": (
        "alerts/holmesgpt_13_Watchdog_issue_data.json"
    ),
    "alerts/cloudwatch_sns/cloudwatch-alarm-sns-payload-single-metric.json": (
        "alerts/cloudwatch-alarm-sns-payload-single-metric.json"
    ),
    "alerts/cloudwatch_sns/cloudwatch-alarm-sns-payload-multiple-metrics.json": (
        "alerts/cloudwatch-alarm-sns-payload-multiple-metrics.json"
    ),
    "pii/presidio-research_synth_dataset_v2.json": (
        "pii/presidio-research_synth_dataset_v2.json.gz"
    ),
}
for _rel in (
    "rca_data/2022-08-22/trace/05_28_trace.csv",
    "construct_data/2022-08-23/trace/17_00_trace.csv",
    "rca_data/2023-01-30/trace/13_23_trace.csv",
    "construct_data/2023-01-30/trace/11_39_trace.csv",
):
    COPIED[f"traces/Nezha/{_rel}"] = f"nezha/{_rel}.gz"


def real_path(rel: str) -> Path:
    """The copy of a realdata file when one is kept here, else the file in ../shared."""
    copy = COPIED.get(rel)
    return FIXTURES / copy if copy is not None else REALDATA / rel


def real_param(rel: str, *values: Any) -> Any:
    """A pytest parameter (path, *values) marked `realdata` when the file is not copied."""
    marks = () if rel in COPIED else (pytest.mark.realdata,)
    return pytest.param(real_path(rel), *values, id=rel, marks=marks)
