"""`incident serve` settings and command line: the TOML file, secrets named by environment
variable (never written in the file), flags over the file, `--replay`, and one-line errors.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from realfiles import FIXTURES

from incident.errors import UsageError
from incident.serve.config import load_settings
from incident.serve.queue import Queue

PROM = FIXTURES / "alerts" / "prom_post_request.json"


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "serve.toml"
    path.write_text(text)
    return path


def test_config_file_secrets_by_env_and_flags_win(tmp_path: Path) -> None:
    """Sources and destinations come from the file, secrets from the named variables, and
    --listen / --folder override the file."""
    (tmp_path / "cli-out").mkdir()
    (tmp_path / "file-out").mkdir()
    path = _toml(
        tmp_path,
        f"""
listen = "0.0.0.0:9000"
max_body = "64K"
[sources.grafana]
verify = "grafana"
secret_env = "G_SECRET"
rate = 5
[[destinations]]
kind = "slack"
url_env = "SLACK_URL"
[[destinations]]
kind = "folder"
path = "{tmp_path / "file-out"}"
""",
    )
    env = {"G_SECRET": "abc", "SLACK_URL": "http://127.0.0.1:1/hook"}
    s = load_settings(path, env=env)
    assert (s.host, s.port, s.max_body) == ("0.0.0.0", 9000, 64 * 1024)
    assert s.sources["grafana"].secret == "abc"
    assert s.rule("sentry") is None
    assert [d.kind for d in s.destinations] == ["slack", "folder"]
    assert "abc" not in repr(s) and "127.0.0.1:1" not in repr(s)
    flagged = load_settings(path, listen="127.0.0.1:0", folder=tmp_path / "cli-out", env=env)
    assert (flagged.host, flagged.port) == ("127.0.0.1", 0)
    folders = [d.path for d in flagged.destinations if d.kind == "folder"]
    assert folders == [tmp_path / "cli-out"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[sources.grafana]\nverify = "grafana"\nsecret = "plain"\n', "secret"),
        ('[sources.grafana]\nverify = "grafana"\nsecret_env = "NOPE"\n', "NOPE is not set"),
        ('[[destinations]]\nkind = "slack"\nurl = "https://hooks.example/x"\n', "url_env"),
        ('[sources.nagios]\nverify = "token"\n', "unknown source"),
        ("colour = 3\n", "unknown setting"),
        ("keep_done_s = -1\n", "keep_done_s must be a non-negative number"),
        ("slow_ms = 0.5\n", "slow_ms must be at least 1"),
        ("listen = [", "not valid TOML"),
    ],
)
def test_config_mistakes_are_one_line_usage_errors(tmp_path: Path, text: str, says: str) -> None:
    """Secret values in the file, unset variables, unknown names: UsageError saying so."""
    with pytest.raises(UsageError, match=says):
        load_settings(_toml(tmp_path, text), env={})


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "incident", "serve", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_cli_without_destination_exits_2_with_one_line(tmp_path: Path) -> None:
    """`incident serve` with nowhere to post says so in one line, exit 2."""
    proc = _cli("--listen", "127.0.0.1:0", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no destination" in proc.stderr


def test_cli_replay_requeues_dead_letters(tmp_path: Path) -> None:
    """`--replay` moves dead letters back to the queue, attempts reset, and exits 0."""
    (tmp_path / "out").mkdir()
    q = Queue(tmp_path / "q.sqlite3")
    q.bury(q.enqueue("alertmanager", PROM.read_bytes()), "HTTP 500 (gave up after 8 attempts)")
    q.close()
    proc = _cli("--replay", "--folder", "out", "--queue", "q.sqlite3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1 dead letter(s)" in proc.stderr
    q = Queue(tmp_path / "q.sqlite3")
    assert q.counts()["ready"] == 1 and q.dead_letters() == []
    q.close()


def test_a_rate_only_section_keeps_the_default_check() -> None:
    """`[sources.x]` with only a rate does not switch off `[sources.default]`'s check."""
    from incident.serve.config import Settings, SourceRule

    s = Settings(
        sources={
            "default": SourceRule(name="default", verify="token", secret="t"),
            "grafana": SourceRule(name="grafana", rate=5),
        }
    )
    rule = s.rule("grafana")
    assert rule is not None
    assert (rule.verify, rule.secret, rule.rate) == ("token", "t", 5)
    assert s.rule("sentry") == s.sources["default"]


def test_slow_ms_reaches_the_evidence_diagnosis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`slow_ms` in the file is the receiver's `--slow-ms`: the worker diagnoses its evidence
    with it."""
    from incident import pipeline
    from incident.analysis.config import AnalysisConfig
    from incident.model import Alert, Bundle
    from incident.serve.worker import triage_payload

    settings = load_settings(_toml(tmp_path, "slow_ms = 250\n"), env={})
    assert settings.slow_ms == 250.0
    assert load_settings(None, env={}).slow_ms is None
    seen: list[AnalysisConfig | None] = []

    def spy(evidence: object, alerts: object, config: AnalysisConfig | None = None) -> None:
        if evidence is not None:
            seen.append(config)

    monkeypatch.setattr(pipeline, "evidence_report", spy)
    alert = Alert(source="generic", status="firing", name="HighLatency", service="web")
    triage_payload(Bundle(alerts=[alert]), Bundle, 0, AnalysisConfig.slow_at(250.0))
    assert [c.slow_threshold_ms if c else None for c in seen] == [250.0]
