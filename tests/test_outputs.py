"""What the tool writes: redacted by default wherever it may be shared, atomically, in the
format the file name asks for, and never half a secret."""

from __future__ import annotations

import gzip
import json
import os
import pty
import random
import shutil
import stat
import string
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_cli import SAMPLE, one_error_line, run

from incident.errors import UsageError
from incident.outfile import write_atomic
from incident.redact import Redactor
from incident.text import clip

SEED = int(os.environ.get("INCIDENT_TEST_SEED", random.randrange(2**32)))


def _rng() -> random.Random:
    print(f"INCIDENT_TEST_SEED={SEED}")
    return random.Random(SEED)


def _token(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


@pytest.fixture
def secret_bundle(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The sample with fresh secrets planted in error logs (which become log templates and
    timeline entries) and in an alert annotation."""
    rng = _rng()
    secrets = {
        "stripe": f"sk_live_{_token(rng, 28)}",
        "email": f"{_token(rng, 8).lower()}@customer-{_token(rng, 5).lower()}.example.com",
        "password": f"P4ss-{_token(rng, 14)}",
    }
    folder = tmp_path / "bundle"
    shutil.copytree(SAMPLE, folder)
    logs = folder / "app-logs.jsonl"
    lines = logs.read_text().splitlines()
    planted = []
    for line in lines:
        record = json.loads(line)
        if record["level"] == "error":
            record["event"] = (
                f"charge failed for {secrets['email']} with key {secrets['stripe']} "
                f"(db password={secrets['password']})"
            )
        planted.append(json.dumps(record))
    logs.write_text("\n".join(planted) + "\n")
    alerts = folder / "alertmanager-webhook.json"
    doc = json.loads(alerts.read_text())
    doc["alerts"][0]["annotations"]["summary"] = (
        f"bff above SLO; paging {secrets['email']}; key {secrets['stripe']}"
    )
    alerts.write_text(json.dumps(doc))
    return folder, secrets


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text or value[:12] in text]


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_shareable_reports_carry_no_secret_and_no_redact_keeps_them(
    secret_bundle: tuple[Path, dict[str, str]], fmt: str, tmp_path: Path
) -> None:
    folder, secrets = secret_bundle
    raw = run("diagnose", str(folder), "--no-ai", "--no-redact", "--format", fmt)
    assert raw.returncode == 0, raw.stderr.decode()
    assert _leaks(raw.stdout.decode(), secrets), "the planted secrets must reach the report"
    shared = run("diagnose", str(folder), "--no-ai", "--format", fmt)
    assert shared.returncode == 0
    text = shared.stdout.decode()
    assert _leaks(text, secrets) == []
    assert "<email:" in text and ("<stripe" in text or "<secret" in text)
    if fmt == "json":
        report = json.loads(text)
        assert sum(report["redactions"].values()) > 0
        assert report["root_causes"][0]["service"] == "shipping-db"


@pytest.mark.parametrize("fmt", ["text", "md", "json", "slack"])
def test_triage_is_redacted_in_every_format(
    secret_bundle: tuple[Path, dict[str, str]], fmt: str
) -> None:
    folder, secrets = secret_bundle
    payload = str(folder / "alertmanager-webhook.json")
    raw = run("triage", payload, "--format", fmt, "--no-redact")
    assert raw.returncode == 0, raw.stderr.decode()
    assert _leaks(raw.stdout.decode(), secrets)
    proc = run("triage", payload, "--format", fmt)
    assert proc.returncode == 0
    assert _leaks(proc.stdout.decode(), secrets) == []


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("report.json", lambda text: json.loads(text)["schema"] == "incident.report/1"),
        ("pm.md", lambda text: text.startswith("#")),
        ("view.txt", lambda text: not text.startswith("{") and not text.startswith("#")),
    ],
)
def test_the_output_suffix_picks_the_format(tmp_path: Path, name: str, check: object) -> None:
    out = tmp_path / name
    proc = run("diagnose", str(SAMPLE), "--no-ai", "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    assert callable(check) and check(out.read_text())


def test_output_to_a_directory_or_a_symlink_is_exit_2(tmp_path: Path) -> None:
    proc = run("diagnose", str(SAMPLE), "--no-ai", "-o", str(tmp_path))
    assert proc.returncode == 2
    assert "is a directory" in one_error_line(proc)
    target = tmp_path / "elsewhere.md"
    target.write_text("keep me\n")
    link = tmp_path / "pm.md"
    link.symlink_to(target)
    proc = run("diagnose", str(SAMPLE), "--no-ai", "-o", str(link))
    assert proc.returncode == 2 and "symbolic link" in one_error_line(proc)
    assert target.read_text() == "keep me\n"


def _drain(fifo: Path, got: list[bytes]) -> threading.Thread:
    """A reader of the named pipe in the background, as a shell's `cat` would be."""

    def read() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def test_a_named_pipe_is_written_into_not_replaced(tmp_path: Path) -> None:
    """A target that is no regular file (a pipe here; /dev/null, a terminal) is a stream: the
    report goes into it and it stays what it was. Replacing it by rename would leave a
    regular file in its place, as root even at /dev/null."""
    fifo = tmp_path / "report.pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _drain(fifo, got)
    proc = run("diagnose", str(SAMPLE), "--no-ai", "--format", "json", "-o", str(fifo))
    reader.join(timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert json.loads(got[0])["verdict"]["status"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pipe"]


def test_a_link_to_a_stream_is_written_through(tmp_path: Path) -> None:
    """/dev/stdout and a shell's /dev/fd/N are symbolic links to a pipe or a terminal:
    written into, while a link to a regular file is still refused (see above)."""
    proc = run("diagnose", str(SAMPLE), "--no-ai", "--format", "json", "-o", "/dev/stdout")
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["verdict"]["status"]
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    got: list[bytes] = []
    reader = _drain(fifo, got)
    write_atomic(link, b"through\n")
    reader.join(timeout=60)
    assert got == [b"through\n"] and link.is_symlink()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk (ENOSPC while replacing) is a usage error naming the file; the old
    contents survive and no temporary file is left behind."""
    out = tmp_path / "pm.md"
    out.write_text("old\n")

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(UsageError, match="No space left"):
        write_atomic(out, b"new\n")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pm.md"]


def test_write_replaces_existing_file_keeping_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "pm.md"
    out.write_text("old\n")
    out.chmod(0o640)
    write_atomic(out, b"new\n")
    assert out.read_text() == "new\n"
    assert out.stat().st_mode & 0o777 == 0o640


def test_redact_keeps_gzip_in_gzip_out(tmp_path: Path) -> None:
    src = tmp_path / "logs.jsonl.gz"
    src.write_bytes(gzip.compress(b'{"msg": "login by alice@example.org"}\n'))
    out = tmp_path / "clean.jsonl.gz"
    proc = run("redact", str(src), "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    text = gzip.decompress(out.read_bytes()).decode()
    assert "alice@example.org" not in text and "<email:1>" in text


def test_triage_on_a_terminal_with_nothing_piped_says_what_it_expects() -> None:
    """Run with a real pseudo-terminal on stdin: no silent wait, one line, exit 2."""
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "incident", "triage"],
            stdin=secondary,
            capture_output=True,
            timeout=30,
            check=False,
        )
    finally:
        os.close(primary)
        os.close(secondary)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "standard input" in line and "pipe" in line


# --- clip: never half a token ------------------------------------------------------------


def test_clip_keeps_short_text_and_cuts_at_a_token_boundary() -> None:
    assert clip("short", 10) == "short"
    assert clip("alpha beta gamma", 12) == "alpha beta…"
    assert clip("key=sk_live_abcdefghijklmnop rest", 20) == "key=…"
    assert clip("x" * 50, 10) == "…"


def test_a_secret_straddling_the_limit_is_never_kept_half() -> None:
    rng = _rng()
    for _ in range(300):
        secret = f"sk_live_{_token(rng, 24)}"
        prefix = " ".join(_token(rng, rng.randrange(1, 9)) for _ in range(rng.randrange(1, 30)))
        text = f"{prefix} {secret} tail"
        limit = rng.randrange(len(prefix) + 2, len(prefix) + len(secret) + 2)
        out = clip(text, limit)
        assert len(out) <= limit
        # Either the whole secret (then the redactor sees it) or none of it.
        assert secret in out or secret[:4] not in out, (text, limit, out)
        assert "sk_live" not in Redactor().redact_text(out)


@pytest.mark.parametrize(
    "payload", [b"[]", b'{"version": "4", "status": "resolved", "alerts": []}']
)
def test_nothing_firing_is_an_answer_not_an_error(payload: bytes) -> None:
    """Alertmanager's /api/v2/alerts answers `[]` when nothing fires."""
    proc = run("triage", "--format", "json", stdin=payload)
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    assert doc["groups"] == [] and any("nothing is firing" in n for n in doc["notices"])


def test_a_toml_file_is_called_a_configuration_file_not_broken_json(tmp_path: Path) -> None:
    config = tmp_path / "incident.toml"
    config.write_text('[server]\nlisten = "127.0.0.1:8080"\n\n[slack]\nwebhook_env = "X"\n')
    proc = run("inspect", str(config))
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "TOML" in line and "malformed JSON" not in line


def test_max_input_size_flag_bounds_what_is_read(tmp_path: Path) -> None:
    """--max-input-size caps an input after decompression: one line naming the file and the
    limit; a value that is no size is a usage error."""
    bomb = tmp_path / "zeros.json.gz"
    bomb.write_bytes(gzip.compress(b"[" + b" " * 3_000_000 + b"]"))
    proc = run("inspect", str(bomb), "--max-input-size", "1M")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "zeros.json.gz" in line and "--max-input-size" in line
    proc = run("inspect", str(SAMPLE), "--max-input-size", "lots")
    assert proc.returncode == 2 and "not a size" in one_error_line(proc)
    assert run("inspect", str(SAMPLE), "--max-input-size", "64M").returncode == 0


def test_no_field_of_a_shared_document_is_a_sensitive_key() -> None:
    """Reports and triages are redacted by the generic JSON walk, which masks whatever sits
    under a sensitive key: a field named like one (`token_count`, say) would lose its value."""
    from pydantic import BaseModel

    from incident.redact import is_sensitive_key
    from incident.report import Report
    from incident.triage_report import Triage

    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [Report, Triage]
    names: set[str] = set()
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
            for arg in (*getattr(info.annotation, "__args__", ()), info.annotation):
                inner = getattr(arg, "__args__", (arg,))
                todo.extend(t for t in inner if isinstance(t, type) and issubclass(t, BaseModel))
    assert len(seen) > 10 and "verdict" in names
    assert sorted(n for n in names if is_sensitive_key(n)) == []
