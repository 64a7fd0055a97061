"""`incident triage` with Claude's review, through the real CLI entry point against the
scripted loopback stand-in of `test_investigate.py` (ANTHROPIC_BASE_URL on 127.0.0.1; the
replies written to the documented Messages API shapes): the review in text, Markdown, JSON
and Slack marked as model output, the request carrying only the redacted, fenced triage,
retries and failure handled, and the planted redaction corpus absent from the request."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_ask import cli
from test_investigate import SAMPLE, StandIn, api, api_error, message  # noqa: F401
from test_leaks_end_to_end import bundle, planted  # noqa: F401  (fixtures)
from test_redact_hostile import SEED, Planted, leaks
from test_triage_render import slack_errors

from incident.llm.prompts import load_prompt

ALERTS = SAMPLE / "alertmanager-webhook.json"


def fenced_triage(body: dict[str, Any]) -> dict[str, Any]:
    """The triage document the request carried between the fences."""
    text = body["messages"][0]["content"]
    inside = re.search(r"\n<telemetry>\n(.*)\n</telemetry>", text, re.S)
    assert inside is not None, "the triage is fenced"
    doc: dict[str, Any] = json.loads(inside.group(1))
    return doc


def review(body: dict[str, Any], extra_group: str | None = None) -> dict[str, Any]:
    """A review naming the first group the request showed (and `extra_group`, if given)."""
    name = fenced_triage(body)["groups"][0]["name"]
    actions = [{"group": name, "action": "Check the slow queries", "risk": "low", "why": "cheap"}]
    if extra_group:
        actions.append({"group": extra_group, "action": "Restart it", "risk": "high", "why": "?"})
    answer = {
        "explanation": f"{name} fires because the database slowed down.",
        "blast_radius_review": "Checkout users only; the grouping looks right.",
        "first_actions": actions,
        "open_questions": ["Did a migration run?"],
    }
    return message([{"type": "text", "text": json.dumps(answer)}])


def test_review_in_every_format_marked_as_model_output(
    api: StandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.after = review
    outs = {}
    for fmt in ("text", "md", "json", "slack"):
        proc = cli(monkeypatch, capsys, "triage", str(ALERTS), "--format", fmt, "--no-cache")
        assert proc.returncode == 0, proc.stderr
        outs[fmt] = proc.stdout
    assert "CLAUDE'S REVIEW (model output; check it before acting)" in outs["text"]
    assert "fires because the database slowed down" in outs["text"]
    assert "#### Claude's review" in outs["md"] and "> **Model output**" in outs["md"]
    assert "- [ ] **" in outs["md"] and "Check the slow queries" in outs["md"]
    doc = json.loads(outs["json"])
    assert doc["ai"]["status"] == "ok" and doc["ai"]["first_actions"][0]["risk"] == "low"
    assert doc["ai"]["usage"]["input_tokens"] == 3000
    slack = json.loads(outs["slack"])
    assert slack_errors(slack) == []
    texts = json.dumps(slack)
    assert "Claude's review" in texts and "model output" in texts

    body = api.bodies[0]
    assert body["system"][0]["text"] == load_prompt("triage")
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert set(body["output_config"]["format"]["schema"]["required"]) >= {"first_actions"}
    assert "tools" not in body
    assert fenced_triage(body)["groups"], "the triage groups are sent"


def test_cached_review_is_reused(
    api: StandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.after = review
    for _ in range(2):
        proc = cli(monkeypatch, capsys, "triage", str(ALERTS), "--format", "json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["ai"]["status"] == "ok"
    assert len(api.bodies) == 1
    assert json.loads(proc.stdout)["ai"]["cached"] is True


def test_a_group_the_triage_does_not_have_is_flagged(
    api: StandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.after = lambda body: review(body, extra_group="GhostAlert")
    proc = cli(monkeypatch, capsys, "triage", str(ALERTS), "--format", "md", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert "GhostAlert (no such group in the triage)" in proc.stdout


def test_overloaded_is_retried_and_a_failure_leaves_the_triage(
    api: StandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.script = [api_error(529, "overloaded_error", "Overloaded")]
    api.after = review
    proc = cli(monkeypatch, capsys, "triage", str(ALERTS), "--format", "json", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ai"]["status"] == "ok" and len(api.bodies) == 2

    api.after = api_error(401, "authentication_error", "invalid x-api-key")
    proc = cli(monkeypatch, capsys, "triage", str(ALERTS), "--format", "text", "--no-cache")
    assert proc.returncode == 0
    assert proc.stdout.startswith("TRIAGE: ") and "FIRING" in proc.stdout
    assert "CLAUDE'S REVIEW: failed (Claude API 401" in proc.stdout
    assert "AI step failed" in proc.stderr
    proc = cli(monkeypatch, capsys, "triage", str(ALERTS), "--no-cache", "--require-ai")
    assert proc.returncode == 3


def test_without_a_key_or_with_no_ai_nothing_is_sent_and_the_document_is_unchanged(
    api: StandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proc = cli(monkeypatch, capsys, "triage", str(ALERTS), "--format", "json", "--no-ai")
    assert proc.returncode == 0 and json.loads(proc.stdout)["ai"] is None
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    proc = cli(monkeypatch, capsys, "triage", str(ALERTS), "--format", "text")
    assert proc.returncode == 0 and "CLAUDE" not in proc.stdout
    assert "ANTHROPIC_API_KEY" not in proc.stderr, "no notice without --ai: triage is piped"
    assert api.bodies == []


def test_no_secret_in_the_triage_request_and_no_redact_restores_locally(
    api: StandIn,  # noqa: F811
    bundle: Path,  # noqa: F811
    planted: list[Planted],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Alert labels and annotations carry the whole corpus: the request body holds none of
    it (byte for byte, as the server received it), though the alerts are in it."""
    payload = bundle / "alertmanager-webhook.json"

    def echo_placeholder(body: dict[str, Any]) -> dict[str, Any]:
        reply = review(body)
        text = json.loads(reply["content"][0]["text"])
        found = re.search(r"<email:\d+>", body["messages"][0]["content"])
        assert found is not None, "the planted email reached the request as a placeholder"
        text["blast_radius_review"] = f"Ask {found.group(0)} about it."
        reply["content"][0]["text"] = json.dumps(text)
        return reply

    api.after = echo_placeholder
    wide = ("--max-digest-tokens", "100000")  # every group sent, none left out for size
    proc = cli(monkeypatch, capsys, "triage", str(payload), "--format", "json", "--no-cache", *wide)
    assert proc.returncode == 0, proc.stderr
    for raw in api.raw:
        assert leaks(raw.decode("utf-8", "replace"), planted) == [], f"seed {SEED}"
    assert leaks(proc.stdout, planted) == []
    sent = fenced_triage(api.bodies[0])
    assert len(sent["groups"]) == len(planted) and "groups_left_out" not in sent
    assert "<email:" in json.loads(proc.stdout)["ai"]["blast_radius_review"]

    proc = cli(
        monkeypatch,
        capsys,
        "triage",
        str(payload),
        "--format",
        "json",
        "--no-cache",
        "--no-redact",
        *wide,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ai"]["status"] == "ok"
    local = json.loads(proc.stdout)["ai"]["blast_radius_review"]
    assert "<email:" not in local and "@" in local, "placeholders mapped back locally"
