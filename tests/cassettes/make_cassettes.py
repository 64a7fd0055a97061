"""Writes the hand-made cassettes in this folder (see README.md): request bodies are what
`incident.llm.build_request` sends for the test digest; responses are written by hand in
the documented Messages API shapes. Run: .venv/bin/python tests/cassettes/make_cassettes.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

from test_llm import MODEL, llm_digest  # noqa: E402

from incident.llm import build_request  # noqa: E402

URI = "https://api.anthropic.com/v1/messages"
REQUEST_HEADERS = {
    "accept": ["application/json"],
    "anthropic-version": ["2023-06-01"],
    "content-type": ["application/json"],
}


def answer(confidence: float, email: str) -> str:
    return json.dumps(
        {
            "explanation": (
                "Checkout requests slowed and then failed because the orders-db connection "
                f"pool was exhausted (E1, E2). Support contact {email} was paged."
            ),
            "hypotheses": [
                {
                    "statement": "orders-db ran out of pooled connections after the deploy",
                    "confidence": confidence,
                    "evidence": ["E1", "E2"],
                },
                {
                    "statement": "a network fault between checkout and orders-db",
                    "confidence": 0.15,
                    "evidence": ["E999"],
                },
            ],
            "blast_radius_review": "Looks right: checkout and its callers; search unaffected.",
            "first_actions": [
                {
                    "action": "Roll back checkout to the previous version",
                    "risk": "low",
                    "why": "the errors start with the new version (E2)",
                },
                {
                    "action": "Raise the orders-db pool size",
                    "risk": "medium",
                    "why": "relieves exhaustion but adds database load",
                },
            ],
            "open_questions": ["Did the pool size change in the deploy?"],
            "narrative": "On 14 March checkout requests failed for 12 minutes (E1).",
        }
    )


def message(msg_id: str, text: str, usage: dict[str, int], *, thinking: bool = False) -> str:
    content: list[dict[str, Any]] = []
    if thinking:
        content.append(
            {
                "type": "thinking",
                "thinking": "Compare E1 and E2 timing.",
                "signature": "EqQBCkYIBxgCKkB0ZXN0LW9ubHk=",
            }
        )
    content.append({"type": "text", "text": text})
    return json.dumps(
        {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": content,
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage.get("input", 4118),
                "cache_creation_input_tokens": usage.get("cache_write", 0),
                "cache_read_input_tokens": usage.get("cache_read", 1402),
                "output_tokens": usage.get("output", 736),
                "service_tier": "standard",
            },
        }
    )


def ok(body: str, request_id: str) -> dict[str, Any]:
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["application/json"], "request-id": [request_id]},
        "body": {"string": json.dumps(json.loads(body), indent=2, ensure_ascii=False)},
    }


def error(
    code: int, reason: str, kind: str, text: str, request_id: str, **extra: str
) -> dict[str, Any]:
    headers = {"content-type": ["application/json"], "request-id": [request_id]}
    headers.update({k.replace("_", "-"): [v] for k, v in extra.items()})
    body = {"type": "error", "error": {"type": kind, "message": text}, "request_id": request_id}
    return {
        "status": {"code": code, "message": reason},
        "headers": headers,
        "body": {"string": json.dumps(body, indent=2)},
    }


def request(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "method": "POST",
        "uri": URI,
        "headers": REQUEST_HEADERS,
        "body": json.dumps(body, indent=2, ensure_ascii=False),
    }


def _block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line strings (pretty JSON bodies) as literal blocks, so a reviewer can read them.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


yaml.SafeDumper.add_representer(str, _block)


def write(name: str, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    doc = {"interactions": [{"request": q, "response": r} for q, r in pairs], "version": 1}
    (HERE / f"{name}.yaml").write_text(
        yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
    )


def repair_body(first: dict[str, Any], bad_answer: str) -> dict[str, Any]:
    return {
        **first,
        "messages": [
            *first["messages"],
            {"role": "assistant", "content": bad_answer},
            {
                "role": "user",
                "content": (
                    "Your answer did not validate against the required schema:\n"
                    "- hypotheses.0.confidence: Input should be less than or equal to 1\n"
                    "Reply again with the complete corrected JSON object and nothing else."
                ),
            },
        ],
    }


def main() -> None:
    digest = llm_digest()
    email = "<email:1>"
    assert email in digest.redactor.mapping
    body = build_request(digest, MODEL)
    good = answer(0.8, email)
    write(
        "good_answer",
        [
            (
                request(body),
                ok(message("msg_01GoodAnswer7Tn2Yq", good, {}, thinking=True), "req_011CGood0001"),
            )
        ],
    )
    write(
        "overloaded_then_ok",
        [
            (
                request(body),
                error(
                    529,
                    "Overloaded",
                    "overloaded_error",
                    "Overloaded",
                    "req_011COver0001",
                    retry_after="2",
                    x_should_retry="true",
                ),
            ),
            (request(body), ok(message("msg_01AfterOverload9Kd", good, {}), "req_011COver0002")),
        ],
    )
    write(
        "auth_error",
        [
            (
                request(body),
                error(
                    401,
                    "Unauthorized",
                    "authentication_error",
                    "invalid x-api-key",
                    "req_011CAuth0001",
                    x_should_retry="false",
                ),
            ),
        ],
    )
    bad = answer(1.7, email)
    write(
        "invalid_answer",
        [
            (
                request(body),
                ok(message("msg_01BadAnswerOne4Xp", bad, {"output": 690}), "req_011CBad0001"),
            ),
            (
                request(repair_body(body, bad)),
                ok(
                    message("msg_01BadAnswerTwo8Qz", answer(85, email), {"output": 701}),
                    "req_011CBad0002",
                ),
            ),
        ],
    )
    write(
        "invalid_then_repaired",
        [
            (
                request(body),
                ok(message("msg_01BadThenGood1Aa", bad, {"output": 690}), "req_011CRep0001"),
            ),
            (
                request(repair_body(body, bad)),
                ok(
                    message("msg_01BadThenGood2Bb", answer(0.85, email), {"output": 702}),
                    "req_011CRep0002",
                ),
            ),
        ],
    )
    refusal = json.loads(message("msg_01Refusal0000Rf", "", {"output": 3}))
    refusal.update(
        content=[],
        stop_reason="refusal",
        stop_details={
            "type": "refusal",
            "category": None,
            "explanation": "The request was declined by the safety system.",
        },
    )
    write("refusal", [(request(body), ok(json.dumps(refusal), "req_011CRef0001"))])


if __name__ == "__main__":
    main()
