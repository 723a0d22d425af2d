"""A plugin written against the official Extism Go PDK (`github.com/extism/go-pdk` v1.1.3 from the
Go module proxy, checksum pinned in go.sum) built by the platform's Go driver from the module
cache, signed, served by extism-mcp-server and called over MCP with the real `mcp` client."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from hatch_extism.build import build_artifacts
from plugin_format.manifest import load_manifest
from plugin_format.signing import load_private_key
from tests.conftest import ROOT
from tests.go_official import official_go_project
from tests.run.test_mcp import SERVER


def test_official_go_pdk_plugin_is_served_and_called_over_mcp(built: dict, tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("no go on PATH (the Go driver's toolchain)")
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    # the build is offline (GOPROXY=off): the module comes into the module cache first, as its
    # README tells a user; go.sum pins its checksum
    project = official_go_project(tmp_path / "count-vowels", "@demo/count-vowels", vendor=False)
    dist = tmp_path / "dist"
    artifacts = build_artifacts(load_manifest(project), dist, key=load_private_key(built["key"]))
    assert artifacts.wasm.is_file()
    params = StdioServerParameters(
        command=sys.executable,
        args=[*SERVER, "--dist", str(dist), "--trust-key", str(built["pub"]), "--state-dir", str(tmp_path / "state")],
        env={"PYTHONPATH": str(ROOT)},
        cwd=str(tmp_path),
    )

    async def main() -> Any:
        with anyio.fail_after(120):
            async with Client(params) as client:
                tools = {t.name: t for t in (await client.list_tools()).tools}
                assert tools["demo_count-vowels-count_vowels"].input_schema["required"] == ["input"]
                return await client.call_tool("demo_count-vowels-count_vowels", {"input": "Hello World"})

    result = anyio.run(main)
    assert not result.is_error, result
    assert result.content[0].text == '{"count":3}'
