"""extism-mcp-server with the real `mcp` SDK client: stdio (both protocol eras) and streamable
HTTP with a bearer token; tool naming; errors as isError; the CLI's one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from extism_platform.demo import WeatherAPI
from extism_platform.mcp.naming import tool_name
from tests.conftest import ROOT, run_cli
from tests.run.mcp_http import mcp_server

SERVER = ["-m", "extism_platform.cli.mcp_server"]


def _args(built: dict[str, Path], api: WeatherAPI, tmp_path: Path) -> list[str]:
    return [
        "--dist",
        str(built["dist"]),
        "--trust-key",
        str(built["pub"]),
        "--grant",
        "@examples/weather:host=api.weather.example",
        "--grant",
        f"@examples/weather:config.api_key={api.api_key}",
        "--grant",
        "@examples/weather:host_function=log",
        "--grant",
        "@examples/probe:timeout_ms=300",
        "--resolve",
        f"api.weather.example={api.url}",
        "--audit-log",
        str(tmp_path / "audit.jsonl"),
        "--state-dir",
        str(tmp_path / "state"),
    ]


def test_tool_names_fold_the_scope_and_cannot_collide() -> None:
    assert tool_name("@acme/weather", "get_weather") == "acme_weather-get_weather"
    # `@a/b-c` + `d` vs `a-b` + `c_d` vs `@a/b` + `c_d`: all distinct
    names = {tool_name("@a/b-c", "d"), tool_name("a-b", "c_d"), tool_name("@a/b", "c_d"), tool_name("a-b-c", "d")}
    assert len(names) == 4


async def _exercise(client: Any) -> dict[str, Any]:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    out: dict[str, Any] = {"tools": tools}
    out["weather"] = await client.call_tool("examples_weather-get_weather", {"city": "Paris"})
    out["bad_args"] = await client.call_tool("examples_weather-get_weather", {"town": "Paris"})
    out["plugin_error"] = await client.call_tool("examples_weather-get_weather", {"city": "Atlantis"})
    out["denied"] = await client.call_tool("examples_probe-fetch", {"url": "https://evil.example/"})
    out["timeout"] = await client.call_tool("examples_probe-spin", {})
    out["after"] = await client.call_tool("examples_probe-echo", {"text": "still serving"})
    out["plugins"] = await client.call_tool("extism_plugins", {"plugin": "@examples/weather"})
    return out


def _check(out: dict[str, Any]) -> None:
    tools = out["tools"]
    assert "examples_weather-get_weather" in tools and "extism_plugins" in tools
    assert "examples_probe-raw" not in tools  # no input schema, no tool
    assert tools["examples_weather-get_weather"].output_schema["required"] == ["city", "temp_c", "conditions"]
    w = out["weather"]
    assert not w.is_error and w.structured_content["temp_c"] == 21.5
    assert json.loads(w.content[0].text) == w.structured_content
    assert out["bad_args"].is_error and "invalid arguments" in out["bad_args"].content[0].text
    assert out["plugin_error"].is_error
    assert out["plugin_error"].content[0].text == "get_weather: unknown city 'Atlantis'"
    assert out["denied"].is_error and "not allowed HTTP access to evil.example" in out["denied"].content[0].text
    assert out["timeout"].is_error and "timed out after 300 ms" in out["timeout"].content[0].text
    assert out["after"].structured_content == {"text": "still serving"}
    (p,) = out["plugins"].structured_content["plugins"]
    assert p["name"] == "@examples/weather" and p["signed"] and p["trusted"]
    assert p["effective"]["hosts"] == ["api.weather.example"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_stdio_with_the_python_client(built: dict, weather_api: WeatherAPI, tmp_path: Path, mode: str) -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=[*SERVER, *_args(built, weather_api, tmp_path)],
        env={"PYTHONPATH": str(ROOT)},
        cwd=str(tmp_path),
    )

    async def main() -> dict[str, Any]:
        with anyio.fail_after(60):
            async with Client(params, mode=mode) as client:
                return await _exercise(client)

    _check(anyio.run(main))


@pytest.fixture()
def http_server(built: dict, weather_api: WeatherAPI, tmp_path: Path) -> Iterator[str]:
    args = _args(built, weather_api, tmp_path)
    with mcp_server(args, tmp_path / "stderr.log", env={"EXTISM_MCP_TOKEN": "s3cret"}) as (port, _):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_streamable_http_with_bearer_token(http_server: str, mode: str) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    assert httpx2.post(http_server, json={}).status_code == 401

    async def main() -> dict[str, Any]:
        with anyio.fail_after(60):
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret"}, timeout=30) as http:
                async with Client(streamable_http_client(http_server, http_client=http), mode=mode) as client:
                    return await _exercise(client)

    _check(anyio.run(main))


def test_list_json_and_filters(built: dict) -> None:
    r = run_cli(*SERVER, "--dist", str(built["dist"]), "--only", "@examples/weather", "--list", "--json", "--no-audit")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [t["name"] for t in doc["tools"]] == ["extism_plugins", "examples_weather-get_weather"]
    r = run_cli(*SERVER, "--dist", str(built["dist"]), "--skip", "examples_probe-*", "--list", "--no-audit")
    assert "examples_probe" not in r.stdout and "examples_weather-get_weather" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no plugins: give --dist DIR"),
        (["--dist", "/nonexistent"], "--dist /nonexistent: not a directory"),
        (["--registry", "file:///no-such-registry"], "registry file:///no-such-registry/"),
        (["--dist", ".", "--grant", "oops"], "--grant 'oops': expected PLUGIN:KEY=VALUE"),
        (["--dist", ".", "--http", "nope", "--allow-unsigned"], ""),
    ],
)
def test_cli_errors_are_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    r = run_cli(*SERVER, *args, "--no-audit", cwd=tmp_path)
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("extism-mcp-server: error: "), r.stderr
    assert message in r.stderr


def test_help_has_examples() -> None:
    r = run_cli(*SERVER, "--help")
    assert r.returncode == 0 and "examples:" in r.stdout
