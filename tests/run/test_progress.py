"""The `progress` host function: a plugin's `progress_notify` reports arrive at the real `mcp` client
as `notifications/progress` when it gave a progress token (both protocol eras), and cost nothing when
it did not. The plugin is a raw-ABI WAT module, signed like any build."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
import wasmtime

from tests.conftest import ROOT
from tests.run.conftest import resign
from tests.run.test_mcp import SERVER

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _as_progress_plugin(doc: dict[str, Any]) -> None:
    doc["exports"] = [{"name": "work", "description": "Reports progress twice", "input_schema": {"type": "object"}}]
    doc["permissions"]["host_functions"] = ["progress"]
    doc["wasi"] = False


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_progress_reaches_the_client(built: dict, tmp_path: Path, mode: str) -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    wasm = wasmtime.wat2wasm((FIXTURES / "progress.wat").read_text())
    dist = resign(built, "examples-probe-0.1.0", tmp_path / "dist", _as_progress_plugin, wasm=wasm)
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            *SERVER,
            "--dist",
            str(dist),
            "--trust-key",
            str(built["pub"]),
            "--grant",
            "@examples/probe:host_function=progress",
            "--no-audit",
            "--state-dir",
            str(tmp_path),
        ],
        env={"PYTHONPATH": str(ROOT)},
        cwd=str(tmp_path),
    )
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async def main() -> tuple[Any, Any]:
        with anyio.fail_after(60):
            async with Client(params, mode=mode) as c:
                with_token = await c.call_tool("examples_probe-work", {}, progress_callback=on_progress)
                without = await c.call_tool("examples_probe-work", {})
                return with_token, without

    with_token, without = anyio.run(main)
    assert not with_token.is_error and with_token.content[0].text == '{"done":true}'
    assert not without.is_error
    assert seen == [(1.0, 2.0, "half way"), (2.0, 2.0, None)]


def test_progress_is_denied_without_a_grant(built: dict, tmp_path: Path) -> None:
    from extism_platform.host.runtime import Host
    from extism_platform.host.sources import from_dist
    from plugin_format.errors import PluginCallError

    wasm = wasmtime.wat2wasm((FIXTURES / "progress.wat").read_text())
    dist = resign(built, "examples-probe-0.1.0", tmp_path / "dist", _as_progress_plugin, wasm=wasm)
    host = Host()
    from plugin_format.signing import load_public_key

    host.add_all(from_dist(dist, keys=[load_public_key(built["pub"])]))
    with pytest.raises(PluginCallError) as err:
        host.call("@examples/probe", "work", b"{}", progress=lambda *a: None)
    assert err.value.kind == "denied" and "progress_notify" in str(err.value)
