"""The Extism idiom for optional config — `v, ok := pdk.GetConfig(k); if !ok { default }` — works
under the MCP server: a key the user did not grant reads as not set, so the plugin's default
applies (before, the call stopped with "not allowed to read config"). A real Go plugin built by
the Go driver, served by `extism-mcp-server` to the Python `mcp` client.

The official go-pdk is not served by this machine's Go module proxy (403 "This module version is
not available"), so the plugin uses the platform's Go PDK, whose `GetConfig` has the same shape.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from hatch_extism.toolchains import get_toolchain
from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.toolchain

MAIN_GO = """package main

import "extism-platform.dev/pdk"

type input struct {
	Name string `json:"name"`
}

//go:wasmexport greet
func greet() int32 {
	var in input
	if err := pdk.InputJSON(&in); err != nil {
		return pdk.Return(err)
	}
	greeting, ok := pdk.GetConfig("greeting")
	if !ok {
		greeting = "Hello" // the default when the host supplies no value
	}
	return pdk.Return(pdk.OutputJSON(map[string]string{"greeting": greeting + ", " + in.Name + "!"}))
}

func main() {}
"""


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not get_toolchain("go").detect().found:
        pytest.skip("no go toolchain (`extism-plugin toolchains --install go`)")
    root = tmp_path_factory.mktemp("optional-config")
    proc = run_cli(
        "-m", "extism_platform.cli.plugin", "init", "@demo/greeter", "--lang", "go", "--dir", str(root / "g")
    )
    assert proc.returncode == 0, proc.stderr
    project = root / "g"
    (project / "main.go").write_text(MAIN_GO)
    manifest = project / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("tests:\n", "permissions:\n  config: [greeting]\ntests:\n", 1))
    proc = run_cli("-m", "extism_platform.cli.plugin", "build", str(project), "--unsigned")
    assert proc.returncode == 0, proc.stderr
    return project / "dist"


def _call(dist: Path, tmp_path: Path, *grants: str) -> Any:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    args = ["-m", "extism_platform.cli.mcp_server", "--dist", str(dist), "--allow-unsigned"]
    for g in grants:
        args += ["--grant", g]
    args += ["--audit-log", str(tmp_path / "audit.jsonl"), "--state-dir", str(tmp_path / "state")]
    params = StdioServerParameters(command=sys.executable, args=args, env={"PYTHONPATH": str(ROOT)}, cwd=str(tmp_path))

    async def main() -> Any:
        with anyio.fail_after(60):
            async with Client(params) as client:
                return await client.call_tool("demo_greeter-greet", {"name": "Ada"})

    return anyio.run(main)


def test_ungranted_optional_config_gets_the_plugins_default(dist: Path, tmp_path: Path) -> None:
    result = _call(dist, tmp_path)
    assert not result.is_error, result.content
    assert result.structured_content == {"greeting": "Hello, Ada!"}
    audit = (tmp_path / "audit.jsonl").read_text()
    assert '"capability":"config"' in audit.replace(" ", "") and '"decision":"denied"' in audit.replace(" ", "")


def test_granted_config_is_read(dist: Path, tmp_path: Path) -> None:
    result = _call(dist, tmp_path, "@demo/greeter:config.greeting=Bonjour")
    assert not result.is_error, result.content
    assert result.structured_content == {"greeting": "Bonjour, Ada!"}
