"""MCP details agents rely on, with the real `mcp` client over stdio: `-32602` for an unknown tool and
for a cursor the server never handed out; each schema checked in the dialect its `$schema` declares;
an unusable outputSchema reported at load (plugin and export named); tool annotations derived from
the permissions and overridden by plugin.yaml."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import ROOT, run_cli
from tests.run.conftest import resign
from tests.run.test_mcp import SERVER

PROBE_STEM = "examples-probe-0.1.0"
DRAFT7 = "http://json-schema.org/draft-07/schema#"


def _mutate(doc: dict[str, Any]) -> None:
    exports = {e["name"]: e for e in doc["exports"]}
    # draft-07's `dependencies` (gone in 2020-12): `shout` needs `text`
    exports["echo"]["input_schema"] = {
        "$schema": DRAFT7,
        "type": "object",
        "properties": {"text": {"type": "string"}, "shout": {"type": "boolean"}},
        "dependencies": {"shout": ["text"]},
    }
    exports["fetch"]["output_schema"] = {"properties": {"status": {"type": "integer"}}}  # no type: object
    exports["note"]["annotations"] = {"readOnlyHint": False, "title": "Write a note"}


@pytest.fixture(scope="module")
def dist(built: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return resign(built, PROBE_STEM, tmp_path_factory.mktemp("protocol-dist"), _mutate)


def test_protocol_errors_dialects_and_annotations(built: dict, dist: Path, tmp_path: Path) -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.shared.exceptions import MCPError

    params = StdioServerParameters(
        command=sys.executable,
        args=[
            *SERVER,
            "--dist",
            str(dist),
            "--trust-key",
            str(built["pub"]),
            "--no-audit",
            "--state-dir",
            str(tmp_path),
        ],
        env={"PYTHONPATH": str(ROOT)},
        cwd=str(tmp_path),
    )
    errors: dict[str, Any] = {}

    async def main() -> dict[str, Any]:
        with anyio.fail_after(60), (tmp_path / "stderr.txt").open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as c:
                tools = {t.name: t for t in (await c.list_tools()).tools}
                for key, call in (
                    ("unknown", lambda: c.call_tool("examples_probe-nope", {})),
                    ("cursor", lambda: c.list_tools(cursor="bogus")),
                ):
                    try:
                        await call()
                    except MCPError as exc:
                        errors[key] = exc
                return {
                    "tools": tools,
                    "draft7_bad": await c.call_tool("examples_probe-echo", {"shout": True}),
                    "draft7_ok": await c.call_tool("examples_probe-echo", {"text": "hi", "shout": True}),
                }

    out = anyio.run(main)
    assert (
        errors["unknown"].error.code == -32602
        and "unknown tool 'examples_probe-nope'" in errors["unknown"].error.message
    )
    assert errors["cursor"].error.code == -32602 and "invalid cursor" in errors["cursor"].error.message
    bad = out["draft7_bad"]
    assert bad.is_error and "'text' is a dependency of 'shout'" in bad.content[0].text  # draft-07 semantics
    assert not out["draft7_ok"].is_error
    tools = out["tools"]
    assert tools["examples_probe-fetch"].output_schema is None
    echo, fetch, note = (tools[f"examples_probe-{n}"].annotations for n in ("echo", "fetch", "note"))
    # the probe asks for hosts and for kv (writes): open world, not read-only — unless plugin.yaml says so
    assert echo.open_world_hint is True and echo.read_only_hint is False
    assert note.read_only_hint is False and note.title == "Write a note"
    assert fetch.open_world_hint is True
    stderr = (tmp_path / "stderr.txt").read_text()
    assert "@examples/probe: export fetch: output_schema has no top-level `type: object`" in stderr


def test_annotations_without_hosts_or_kv(built: dict, tmp_path: Path) -> None:
    def narrow(doc: dict[str, Any]) -> None:
        doc["permissions"]["hosts"] = []
        doc["permissions"]["host_functions"] = ["log", "context"]

    dist = resign(built, PROBE_STEM, tmp_path / "dist", narrow)
    import json

    r = run_cli(*SERVER, "--dist", str(dist), "--trust-key", str(built["pub"]), "--list", "--json", "--no-audit")
    assert r.returncode == 0, r.stderr
    tools = {t["name"]: t for t in json.loads(r.stdout)["tools"]}
    ann = tools["examples_probe-echo"]["annotations"]
    assert ann == {"readOnlyHint": True, "destructiveHint": False, "openWorldHint": False}


def test_text_input_export_is_a_tool_with_one_string(built: dict, tmp_path: Path) -> None:
    """plugin.yaml `input: text` (the official Extism examples' plain-text exports): a tool with one
    string argument, handed to the export as raw text, not as the arguments' JSON."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    def text_raw(doc: dict[str, Any]) -> None:
        (raw,) = [e for e in doc["exports"] if e["name"] == "raw"]
        raw["input"] = "text"

    dist = resign(built, PROBE_STEM, tmp_path / "dist", text_raw)
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            *SERVER,
            "--dist",
            str(dist),
            "--trust-key",
            str(built["pub"]),
            "--no-audit",
            "--state-dir",
            str(tmp_path),
        ],
        env={"PYTHONPATH": str(ROOT)},
        cwd=str(tmp_path),
    )

    async def main() -> tuple[Any, Any]:
        with anyio.fail_after(60):
            async with Client(params) as c:
                tools = {t.name: t for t in (await c.list_tools()).tools}
                return tools["examples_probe-raw"], await c.call_tool("examples_probe-raw", {"input": 'plain "text"'})

    tool, result = anyio.run(main)
    assert tool.input_schema["properties"] == {"input": {"type": "string", "description": ANY_DESCRIPTION}}
    assert not result.is_error and result.content[0].text == 'plain "text"'


ANY_DESCRIPTION = "the text the export reads as its input"
