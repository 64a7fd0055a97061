"""`incident mcp`: the session behind the server (paths confined to --root, commands, the
drill-down tools on the latest diagnosis, redaction of every answer), and the server itself
started as a subprocess and driven over stdio by the MCP SDK's own client."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import TextContent
from test_cli import ROOT, SAMPLE
from test_leaks_end_to_end import bundle, planted  # noqa: F401  (fixtures)
from test_redact_hostile import SEED, Planted, leaks

from incident.errors import UsageError
from incident.mcp import build_server
from incident.redact import PLACEHOLDER
from incident.tools.session import Reply, Session


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    shutil.copytree(SAMPLE, folder / "case")
    return folder


def _ok(session: Session, name: str, args: dict[str, Any]) -> Any:
    reply = session.call(name, args)
    assert not reply.is_error, reply.text
    return json.loads(reply.text)


def test_lists_the_commands_and_the_tools(root: Path) -> None:
    names = [s.name for s in Session([root]).specs()]
    assert names[:4] == ["diagnose", "inspect", "triage", "digest"]
    assert {"list_services", "compare_operation", "critical_path", "get_evidence"} <= set(names)


def test_drill_downs_answer_about_the_latest_diagnosis(root: Path) -> None:
    session = Session([root])
    early = session.call("list_services", {})
    assert early.is_error and "diagnose first" in early.text
    summary = _ok(session, "diagnose", {"paths": ["case"]})
    assert summary["verdict"]["status"] == "incident"
    cause = summary["root_causes"][0]
    assert cause["evidence"]
    services = _ok(session, "list_services", {})["services"]
    assert cause["service"] in {s["service"] for s in services}
    shown = _ok(session, "get_evidence", {"id": cause["evidence"][0]})
    assert shown["id"] == cause["evidence"][0]


@pytest.mark.parametrize(
    "path",
    ["../outside.json", "/etc/hostname", "case/../../outside.json", "link-out.json", "linkdir"],
)
def test_paths_outside_the_roots_are_refused(root: Path, path: str) -> None:
    """`..`, absolute paths, a link to a file outside, and a folder holding such a link."""
    outside = root.parent / "outside.json"
    outside.write_text((SAMPLE / "traces.otlp.json").read_text())
    (root / "link-out.json").symlink_to(outside)
    (root / "linkdir").mkdir()
    (root / "linkdir" / "traces.json").symlink_to(outside)
    session = Session([root])
    for name, args in [
        ("diagnose", {"paths": [path]}),
        ("inspect", {"paths": ["case", path]}),
        ("triage", {"payload_path": path}),
        ("digest", {"paths": [path]}),
        ("diagnose", {"paths": ["case"], "baseline": [path]}),
    ]:
        reply = session.call(name, args)
        assert reply.is_error, (name, path)
        assert "outside the allowed roots" in reply.text
    assert session.toolbox is None


def test_a_link_that_stays_inside_a_root_is_followed(root: Path) -> None:
    (root / "same.json").symlink_to(root / "case" / "traces.otlp.json")
    assert _ok(Session([root]), "inspect", {"paths": ["same.json"]})["spans"] > 0


def test_bad_arguments_and_unreadable_files_are_errors(root: Path) -> None:
    (root / "junk.json").write_text('{"hello": "world"}')
    session = Session([root])
    for name, args, says in [
        ("diagnose", {}, "'paths'"),
        ("diagnose", {"paths": "case"}, "'paths'"),
        ("diagnose", {"paths": []}, "'paths'"),
        ("diagnose", {"paths": [3]}, "paths[0]"),
        ("digest", {"paths": ["case"], "max_tokens": 10}, "'max_tokens'"),
        ("inspect", {"paths": ["missing.json"]}, "does not exist"),
        ("diagnose", {"paths": ["junk.json"]}, "junk.json"),
        ("nope", {}, "unknown tool"),
    ]:
        reply = session.call(name, args)
        assert reply.is_error, (name, args)
        assert says in reply.text and "\n" not in reply.text and "Traceback" not in reply.text


def test_a_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        Session([tmp_path / "missing"])


def test_no_planted_secret_in_any_answer(bundle: Path, planted: list[Planted]) -> None:  # noqa: F811
    """The hostile corpus planted in traces, logs and alerts: nothing of it in the answer of
    any command or tool, while the same secrets are in the files read."""
    session = Session([bundle.parent])
    texts = [
        session.call("inspect", {"paths": ["bundle"]}).text,
        session.call("triage", {"payload_path": "bundle/alertmanager-webhook.json"}).text,
        session.call(
            "triage",
            {"payload_path": "bundle/alertmanager-webhook.json", "traces": ["bundle"]},
        ).text,
        session.call("digest", {"paths": ["bundle"]}).text,
        session.call("diagnose", {"paths": ["bundle"]}).text,
    ]
    for name, args in _drill_downs(session):
        texts.append(session.call(name, args).text)
    everything = "\n".join(texts)
    assert len(texts) > 20
    assert leaks(everything, planted) == [], f"seed {SEED}"
    raw = "".join(p.read_text() for p in bundle.iterdir())
    assert len(leaks(raw, planted)) >= len(planted) // 2
    assert len(set(PLACEHOLDER.findall(everything))) >= 10  # placeholders stand in for them


def _drill_downs(session: Session) -> list[tuple[str, dict[str, Any]]]:
    services = json.loads(session.call("list_services", {"limit": 100}).text)["services"]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("list_operations", {"limit": 50}),
        ("critical_path", {}),
        ("search_logs", {"limit": 50}),
        ("list_alerts", {}),
    ]
    calls += [("service_failures", {"service": s["service"], "limit": 20}) for s in services]
    assert session.toolbox is not None
    calls += [("get_evidence", {"id": e}) for e in sorted(session.toolbox.known_ids())]
    return calls


# -- over stdio ----------------------------------------------------------------------------

Script = Callable[[ClientSession], Awaitable[None]]


def _over_stdio(root: Path, script: Script) -> None:
    """Start `python -m incident mcp --root ROOT` and run `script` against it with the
    SDK's client session."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC")}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "incident", "mcp", "--root", str(root)],
        env=env,
        cwd=str(ROOT),
    )

    async def main() -> None:
        with open(os.devnull, "w") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as client,
            ):
                await client.initialize()
                await script(client)

    asyncio.run(asyncio.wait_for(main(), timeout=90))


async def _call(client: ClientSession, name: str, args: dict[str, Any]) -> tuple[bool, str]:
    result = await client.call_tool(name, args)
    block = result.content[0]
    assert isinstance(block, TextContent)
    return bool(result.is_error), block.text


def test_the_server_over_stdio_with_the_sdk_client(root: Path) -> None:
    """Lists the tools, diagnoses, drills down twice, and is refused a path outside."""
    outside = root.parent / "secret.json"
    outside.write_text((SAMPLE / "traces.otlp.json").read_text())
    out: dict[str, Any] = {}

    async def script(client: ClientSession) -> None:
        out["tools"] = {t.name: t for t in (await client.list_tools()).tools}
        out["diagnose"] = await _call(client, "diagnose", {"paths": ["case"]})
        out["services"] = await _call(client, "list_services", {"limit": 5})
        out["path"] = await _call(client, "critical_path", {})
        out["outside"] = await _call(client, "inspect", {"paths": [str(outside)]})
        out["dotdot"] = await _call(client, "diagnose", {"paths": ["case/../../secret.json"]})
        out["bad"] = await _call(client, "list_services", {"limit": "five"})

    _over_stdio(root, script)
    tools = out["tools"]
    assert {"diagnose", "inspect", "triage", "digest", "list_services", "critical_path"} <= set(
        tools
    )
    schema = tools["compare_operation"].input_schema
    assert schema["required"] == ["service", "operation"]
    assert schema["additionalProperties"] is False
    failed, text = out["diagnose"]
    assert not failed and json.loads(text)["verdict"]["status"] == "incident"
    failed, text = out["services"]
    assert not failed and len(json.loads(text)["services"]) == 5
    failed, text = out["path"]
    assert not failed and json.loads(text)["steps"]
    for key in ("outside", "dotdot"):
        failed, text = out[key]
        assert failed and "outside the allowed roots" in text
    failed, text = out["bad"]
    assert failed and "'limit'" in text


def test_no_planted_secret_in_any_answer_over_stdio(
    bundle: Path,  # noqa: F811
    planted: list[Planted],  # noqa: F811
) -> None:
    """Every tool the server lists, called over the protocol on the hostile bundle."""
    texts: list[str] = []

    async def script(client: ClientSession) -> None:
        names = [t.name for t in (await client.list_tools()).tools]
        alerts = "bundle/alertmanager-webhook.json"
        for name, args in [
            ("inspect", {"paths": ["bundle"]}),
            ("triage", {"payload_path": alerts, "traces": ["bundle"]}),
            ("digest", {"paths": ["bundle"]}),
            ("diagnose", {"paths": ["bundle"]}),
        ]:
            texts.append((await _call(client, name, args))[1])
        summary = json.loads(texts[-1])
        cause = summary["root_causes"][0]["service"]
        by_tool: dict[str, dict[str, Any]] = {
            "list_services": {"limit": 100},
            "list_operations": {"limit": 50},
            "compare_operation": {"service": cause, "operation": "x"},
            "compare_edge": {"caller": cause, "callee": cause},
            "call_pattern": {"caller": cause, "callee": cause},
            "critical_path": {},
            "service_failures": {"service": cause, "limit": 20},
            "search_logs": {"limit": 50},
            "list_alerts": {},
            "get_evidence": {"id": "E1"},
        }
        for name in names:
            if name in by_tool:
                texts.append((await _call(client, name, by_tool[name]))[1])
        for i in range(1, 8):
            texts.append((await _call(client, "get_evidence", {"id": f"T{i}"}))[1])

    _over_stdio(bundle.parent, script)
    joined = "\n".join(texts)
    assert len(texts) >= 20
    assert leaks(joined, planted) == [], f"seed {SEED}"
    assert len(set(PLACEHOLDER.findall(joined))) >= 10  # they were there, as placeholders


def test_a_bug_in_one_call_is_a_tool_error_and_the_server_goes_on(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, through the SDK's client: the answer names no exception text (it may
    quote telemetry), and the next call is served."""
    session = Session([root])
    real = session.call

    def broken(name: str, arguments: Any) -> Reply:
        if name == "inspect":
            raise RuntimeError("bug near sk_live_0123456789abcdefABCDEF")
        return real(name, arguments)

    monkeypatch.setattr(session, "call", broken)

    async def main() -> tuple[tuple[bool, str], tuple[bool, str]]:
        async with Client(build_server(session)) as client:
            first = await client.call_tool("inspect", {"paths": ["case"]})
            second = await client.call_tool("diagnose", {"paths": ["case"]})
        texts = []
        for result in (first, second):
            block = result.content[0]
            assert isinstance(block, TextContent)
            texts.append((bool(result.is_error), block.text))
        return texts[0], texts[1]

    (failed, text), (ok_failed, ok_text) = asyncio.run(main())
    assert failed and "internal error (RuntimeError)" in text and "sk_live" not in text
    assert not ok_failed and json.loads(ok_text)["verdict"]
