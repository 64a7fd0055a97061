"""The command line as a user meets it: exit codes, one-line errors, stdout vs stderr."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "checkout-db-latency"


def run(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "incident", *args],
        input=stdin,
        capture_output=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def one_error_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1, proc.stderr.decode()
    assert "Traceback" not in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02\xff\xfe binary \x00", ""),
        (b'{"resourceSpans": [{"scopeSpans": [', ""),
        (b'{"hello": "world"}', ""),
        (b"\xff\xfe\xfa not utf-8 \xc3\x28", ""),
        (b"[" * 100_000 + b"]" * 100_000, ""),
        (b"\x1f\x8b\x08\x00corrupt gzip", ""),
    ],
    ids=[
        "empty",
        "binary",
        "truncated-json",
        "unknown-shape",
        "not-utf8",
        "deep-nesting",
        "corrupt-gz",
    ],
)
def test_unusable_file_exits_2_with_one_line_naming_it(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    """Every kind of unusable input ends in exit 2 and one line that names the file."""
    bad = tmp_path / "bad-input.json"
    bad.write_bytes(content)
    proc = run("inspect", str(bad))
    assert proc.returncode == 2, proc.stderr.decode()
    line = one_error_line(proc)
    assert "bad-input.json" in line
    assert problem in line.lower()


def test_missing_file_and_empty_directory_exit_2(tmp_path: Path) -> None:
    """A path that does not exist, or a directory with nothing in it, is a usage error."""
    proc = run("diagnose", str(tmp_path / "nope.json"), "--no-ai")
    assert proc.returncode == 2
    assert "nope.json" in one_error_line(proc)
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    proc = run("inspect", str(empty))
    assert proc.returncode == 2
    assert "empty-dir" in one_error_line(proc)


def test_unknown_flag_is_a_usage_error() -> None:
    """Click's own usage errors keep exit 2."""
    proc = run("diagnose", "--no-such-flag", "x")
    assert proc.returncode == 2


def test_help_lists_every_command() -> None:
    """`incident --help` names all five commands."""
    proc = run("--help")
    assert proc.returncode == 0
    out = proc.stdout.decode()
    for command in ("diagnose", "inspect", "triage", "redact", "digest"):
        assert command in out


def test_sample_diagnose_json_is_a_valid_report() -> None:
    """The bundled sample diagnoses to a report that validates against the pydantic model."""
    from incident.report import Report

    proc = run("diagnose", str(SAMPLE), "--no-ai", "--format", "json")
    assert proc.returncode == 0, proc.stderr.decode()
    report = Report.model_validate_json(proc.stdout)
    assert report.root_causes
    assert report.ai.status == "skipped"
    assert report.ai.reason == "turned off with --no-ai"


def test_diagnose_without_key_says_ai_skipped_once(tmp_path: Path) -> None:
    """No key: one notice on stderr, the postmortem still written, exit 0."""
    out = tmp_path / "pm.md"
    proc = run("diagnose", str(SAMPLE), "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    notices = [line for line in proc.stderr.decode().splitlines() if "AI step skipped" in line]
    assert len(notices) == 1
    assert "ANTHROPIC_API_KEY" in notices[0]
    text = out.read_text()
    assert text.startswith("#")
    assert "ANTHROPIC_API_KEY is not set" in text, "the postmortem says why there is no AI part"


def test_require_ai_without_key_exits_3(tmp_path: Path) -> None:
    """--require-ai turns a skipped or failed AI step into exit 3, after writing the report."""
    out = tmp_path / "pm.md"
    proc = run("diagnose", str(SAMPLE), "--no-ai", "--require-ai", "-o", str(out))
    assert proc.returncode == 3
    assert out.exists()


def test_inspect_reads_stdin_and_gzip_alike(tmp_path: Path) -> None:
    """The same traces give the same counts from a file, from stdin and gzipped."""
    traces = next(p for p in sorted(SAMPLE.iterdir()) if "trace" in p.name)
    plain = json.loads(run("inspect", str(traces), "--format", "json").stdout)
    gz = tmp_path / "traces.bin"
    gz.write_bytes(gzip.compress(traces.read_bytes()))
    zipped = json.loads(run("inspect", str(gz), "--format", "json").stdout)
    piped = json.loads(run("inspect", "-", "--format", "json", stdin=traces.read_bytes()).stdout)
    for key in ("spans", "traces", "services"):
        assert plain[key] == zipped[key] == piped[key]
    assert plain["spans"] > 0


def test_triage_reads_alert_from_stdin() -> None:
    """`incident triage` with a payload on stdin prints a triage and exits 0."""
    alert = next(p for p in sorted(SAMPLE.iterdir()) if "alert" in p.name)
    proc = run("triage", "--format", "json", stdin=alert.read_bytes())
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "incident.triage/1"


def test_digest_prints_text_and_token_count() -> None:
    """`incident digest` prints the digest on stdout and its token count on stderr."""
    proc = run("digest", str(SAMPLE), "--max-digest-tokens", "2000")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.strip()
    assert "tokens" in proc.stderr.decode()


def test_python_dash_m_matches_the_script() -> None:
    """`python -m incident --version` prints the package version."""
    from incident import __version__

    proc = run("--version")
    assert proc.returncode == 0
    assert __version__ in proc.stdout.decode()


def test_triage_with_nothing_on_stdin_says_an_alert_was_expected() -> None:
    """An empty pipe into triage is exit 2 with one line asking for an alert payload."""
    proc = run("triage", stdin=b"")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "<stdin>" in line and "alert payload" in line


@pytest.mark.slow
@pytest.mark.realdata
def test_a_folder_of_everything_real_is_diagnosed(realdata: Path) -> None:
    """Pointing diagnose at the whole real-data folder (traces from several systems and
    years, logs, alerts, CSVs, READMEs) yields a report, with the unusable files counted
    as warnings rather than failing the run."""
    proc = run("diagnose", str(realdata), "--no-ai", "--format", "json")
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert report["root_causes"]
    assert report["data_quality"]["spans"] > 40_000
    assert any("skipped" in w for w in report["data_quality"]["warnings"])


def _entry(*args: str, at_exit: str = "") -> subprocess.CompletedProcess[bytes]:
    """The process entry point (`incident.cli.run`) with an exit handler registered first."""
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: print({at_exit!r}, file=sys.stderr))\n"
        f"sys.argv = ['incident', *{list(args)!r}]\n"
        "from incident.cli import run\n"
        "run()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC")}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=env, timeout=120, check=False
    )


def test_diagnose_leaves_directly_after_exit_handlers_and_a_full_flush() -> None:
    """The entry point skips freeing the report's records one by one, but still runs the
    exit handlers, flushes everything written and keeps the exit code."""
    proc = _entry("diagnose", str(SAMPLE), "--no-ai", "--format", "md", at_exit="exit handlers ran")
    assert proc.returncode == 0, proc.stderr.decode()
    assert "exit handlers ran" in proc.stderr.decode()
    text = proc.stdout.decode()
    assert text.startswith("# ") and "## Evidence" in text
    assert text.endswith("\n")
    failed = _entry("diagnose", str(SAMPLE), "--format", "json", "--require-ai", at_exit="bye")
    assert failed.returncode == 3
    assert "bye" in failed.stderr.decode()
    json.loads(failed.stdout)  # the report was written in full before the AI check failed


def test_commands_run_in_process_hold_nothing() -> None:
    from incident.cli import common

    common.hold_until_exit(object())
    assert not common.holding()
