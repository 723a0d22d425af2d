"""A plugin written against the official Extism Go PDK (`github.com/extism/go-pdk` v1.1.3 from the
Go module proxy, checksum pinned in go.sum) built by the platform's Go driver from the module
cache, signed, served by extism-mcp-server and called over MCP with the real `mcp` client."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from hatch_extism.build import build_artifacts
from plugin_format.manifest import load_manifest
from plugin_format.signing import load_private_key
from tests.conftest import ROOT
from tests.run.test_mcp import SERVER

GO_SUM = """\
github.com/extism/go-pdk v1.1.3 h1:hfViMPWrqjN6u67cIYRALZTZLk/enSPpNKa+rZ9X2SQ=
github.com/extism/go-pdk v1.1.3/go.mod h1:Gz+LIU/YCKnKXhgge8yo5Yu1F/lbv7KtKFkiCSzW/P4=
"""

MAIN_GO = """\
package main

import (
	"strconv"
	"strings"

	"github.com/extism/go-pdk"
)

//go:wasmexport count_vowels
func countVowels() int32 {
	n := 0
	for _, c := range strings.ToLower(pdk.InputString()) {
		if strings.ContainsRune("aeiou", c) {
			n++
		}
	}
	pdk.OutputString(`{"count":` + strconv.Itoa(n) + `}`)
	return 0
}

func main() {}
"""


def test_official_go_pdk_plugin_is_served_and_called_over_mcp(built: dict, tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("no go on PATH (the Go driver's toolchain)")
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    project = tmp_path / "count-vowels"
    project.mkdir()
    (project / "go.mod").write_text(
        "module example.com/countvowels\n\ngo 1.24\n\nrequire github.com/extism/go-pdk v1.1.3\n"
    )
    (project / "go.sum").write_text(GO_SUM)
    (project / "main.go").write_text(MAIN_GO)
    (project / "plugin.yaml").write_text(
        'name: "@demo/count-vowels"\nversion: 0.1.0\nlanguage: go\nwasi: true\n'
        "exports:\n  - name: count_vowels\n    description: Count the vowels of a text\n    input: text\n"
    )
    # the build is offline (GOPROXY=off): the module comes into the module cache first, as its
    # README tells a user; go.sum pins its checksum
    download = subprocess.run(
        ["go", "mod", "download", "github.com/extism/go-pdk"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"},
    )
    assert download.returncode == 0, download.stderr
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
