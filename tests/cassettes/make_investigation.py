"""Writes `investigation.yaml` (see README.md): a three-turn investigation of the sample
`samples/checkout-db-latency`. The responses are written by hand to the documented Messages
API tool-use shapes; the request bodies are what `incident.llm.investigate` actually sent
for them, captured by running the loop against the loopback stand-in of
`tests/test_investigate.py`. Run: .venv/bin/python tests/cassettes/make_investigation.py
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

from make_cassettes import ok, request, write  # noqa: E402
from test_investigate import SUBMIT, StandIn, answer, options, results, sample_run  # noqa: E402

from incident import pipeline  # noqa: E402


def reply(n: int, content: list[dict[str, Any]], stop: str, inp: int, read: int) -> dict[str, Any]:
    return {
        "id": f"msg_01Investigation{n:04d}",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-5-5",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": inp,
            "output_tokens": 180 + 40 * n,
            "cache_creation_input_tokens": 0 if read else 5200,
            "cache_read_input_tokens": read,
            "service_tier": "standard",
        },
    }


def cite(body: dict[str, Any]) -> dict[str, Any]:
    made = sorted(set(re.findall(r'"(T\d+)"', results(body)[0]["content"])))
    return reply(
        3,
        [
            {
                "type": "tool_use",
                "id": "toolu_01SubmitAnswer3",
                "name": SUBMIT,
                "input": answer("E1", made[0]),
            }
        ],
        "tool_use",
        900,
        7400,
    )


SCRIPT = [
    reply(
        1,
        [
            {"type": "text", "text": "I will check which services fail first."},
            {
                "type": "tool_use",
                "id": "toolu_01ListServices1",
                "name": "list_services",
                "input": {"sort": "errors"},
            },
        ],
        "tool_use",
        400,
        0,
    ),
    reply(
        2,
        [{"type": "tool_use", "id": "toolu_01CriticalPath2", "name": "critical_path", "input": {}}],
        "tool_use",
        1300,
        5200,
    ),
    cite,
]


def main() -> None:
    api = StandIn()
    threading.Thread(target=api.server.serve_forever, daemon=True).start()
    os.environ.update(ANTHROPIC_API_KEY="sk-ant-test-dummy-not-a-key", ANTHROPIC_BASE_URL=api.url)
    answers: list[dict[str, Any]] = []

    def keep(step: Any) -> Any:
        def run(body: dict[str, Any]) -> dict[str, Any]:
            out = step(body) if callable(step) else step
            answers.append(out)
            return out

        return run

    api.script = [keep(s) for s in SCRIPT]
    run = sample_run()
    pipeline.investigate(run, options())
    api.server.shutdown()
    assert run.report.ai.status == "ok", run.report.ai.reason
    pairs = [
        (request(body), ok(json.dumps(out), f"req_01Investigation{i}"))
        for i, (body, out) in enumerate(zip(api.bodies, answers, strict=True), start=1)
    ]
    write("investigation", pairs)


if __name__ == "__main__":
    main()
