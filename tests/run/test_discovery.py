"""`extism-mcp-server --registry URL` alone: discovery tools (search, describe, enable, disable) driven
by the real `mcp` client over stdio, on both protocol eras. The agent can enable only what the user
allows and never grants; enabling and disabling send tools/list_changed; the user's own extism.yaml
(in the platform config directory) supplies pins, grants and the allow-list of a bare `--registry`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from extism_platform.audit import load_key, read_records, verify_log
from extism_platform.demo import WeatherAPI
from tests.conftest import ROOT, run_cli
from tests.run.test_mcp import SERVER
from tests.run.test_watch import ListChanged

DISCOVERY = {"extism_search", "extism_describe", "extism_enable", "extism_disable"}


@pytest.fixture(scope="module")
def registry(built: dict, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A file:// registry with the two example plugins, published and signed for real."""
    from registry_static.repository import Repository

    root = tmp_path_factory.mktemp("discovery-registry")
    repo = Repository.init(root / "registry", root / "keys", name="demo", fsync=False)
    repo.add_scope("@examples", [(built["pub"].read_text(), "demo")])
    repo.publish(sorted(built["dist"].glob("*.wasm")))
    return (root / "registry").as_uri()


def _env(tmp_path: Path) -> dict[str, str]:
    # Own cache, state and config directories: the machine's user config must not leak in.
    return {
        "PYTHONPATH": str(ROOT),
        "EXTISM_PLATFORM_CACHE": str(tmp_path / "cache"),
        "EXTISM_PLATFORM_STATE": str(tmp_path / "state"),
        "EXTISM_PLATFORM_CONFIG": str(tmp_path / "config"),
    }


def _doc(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def _scenario(client: Any, changed: ListChanged) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["before"] = {t.name for t in (await client.list_tools()).tools}
    out["search_all"] = _doc(await client.call_tool("extism_search", {}))
    out["search_weather"] = _doc(await client.call_tool("extism_search", {"query": "weather"}))
    out["describe"] = _doc(await client.call_tool("extism_describe", {"plugin": "@examples/weather"}))
    out["describe_missing"] = await client.call_tool("extism_describe", {"plugin": "@examples/nope"})
    out["enable_refused"] = await client.call_tool("extism_enable", {"plugin": "@examples/weather"})
    out["bad_args"] = await client.call_tool("extism_enable", {"plugin": "@examples/probe", "grant": "all"})
    async with changed.waiter(client) as next_change:
        out["enable"] = _doc(await client.call_tool("extism_enable", {"plugin": "@examples/probe"}))
        out["enabled_event"] = await next_change()
        out["after_enable"] = {t.name for t in (await client.list_tools()).tools}
        out["echo"] = _doc(await client.call_tool("examples_probe-echo", {"text": "enabled by the agent"}))
        out["denied"] = await client.call_tool("examples_probe-fetch", {"url": "https://api.weather.example/"})
        out["disable"] = _doc(await client.call_tool("extism_disable", {"plugin": "@examples/probe"}))
        out["disabled_event"] = await next_change()
        out["after_disable"] = {t.name for t in (await client.list_tools()).tools}
    from mcp.shared.exceptions import MCPError

    try:
        await client.call_tool("examples_probe-echo", {"text": "x"})
    except MCPError as exc:  # an unknown tool again: -32602
        out["echo_gone"] = exc.error.code
    return out


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_discovery_over_stdio(registry: str, tmp_path: Path, mode: str) -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    audit = tmp_path / "audit.jsonl"
    params = StdioServerParameters(
        command=sys.executable,
        args=[*SERVER, f"--registry={registry}", "--allow", "@examples/probe", "--audit-log", str(audit)],
        env=_env(tmp_path),
        cwd=str(tmp_path),
    )
    changed = ListChanged()

    async def main() -> dict[str, Any]:
        with anyio.fail_after(60), (tmp_path / "stderr.txt").open("w") as errlog:
            async with Client(
                stdio_client(params, errlog=errlog), mode=mode, message_handler=changed.message_handler
            ) as c:
                return await _scenario(c, changed)

    out = anyio.run(main)
    assert out["before"] == {"extism_plugins"} | DISCOVERY  # nothing pinned: no plugin tools yet
    assert [p["name"] for p in out["search_all"]["plugins"]] == ["@examples/probe", "@examples/weather"]
    (weather,) = out["search_weather"]["plugins"]
    assert weather["name"] == "@examples/weather" and weather["tools"] == 1
    assert weather["allowed"] is False and weather["enabled"] is False
    d = out["describe"]
    assert d["version"] == "1.0.0" and d["allowed"] is False
    assert d["signature"]["verified"] and d["signature"]["signed"] and len(d["signature"]["key_ids"]) == 1
    assert [t["name"] for t in d["tools"]] == ["examples_weather-get_weather"]
    assert d["tools"][0]["input_schema"]["required"] == ["city"]
    assert d["requested"]["hosts"] == ["api.weather.example"]
    assert d["granted"]["hosts"] == [] and {x["capability"] for x in d["denied"]} >= {"host"}
    assert (
        out["describe_missing"].is_error
        and "no plugin named '@examples/nope'" in out["describe_missing"].content[0].text
    )
    refused = out["enable_refused"]
    assert refused.is_error and "not on this server's allow-list" in refused.content[0].text
    assert "--allow '@examples/weather'" in refused.content[0].text
    assert out["bad_args"].is_error and "grant" in out["bad_args"].content[0].text  # no way to pass a grant
    assert out["enable"]["enabled"] and out["enable"]["version"] == "0.1.0"
    assert "examples_probe-echo" in out["enable"]["tools"]
    assert out["enabled_event"] == ("ToolsListChanged" if mode == "auto" else "notification")
    assert "examples_probe-echo" in out["after_enable"] and out["after_enable"] > out["before"]
    assert out["echo"] == {"text": "enabled by the agent"}
    # enabled by the agent, but granted nothing by the user: its HTTP request is denied
    assert out["denied"].is_error and "not allowed HTTP access to api.weather.example" in out["denied"].content[0].text
    assert out["disable"]["enabled"] is False and out["after_disable"] == out["before"]
    assert out["echo_gone"] == -32602
    records = read_records(audit)
    assert [r["plugin"] for r in records if r["kind"] == "load"] == ["@examples/probe"]
    assert any(r["kind"] == "unload" and r["plugin"] == "@examples/probe" for r in records)
    assert verify_log(audit, load_key(tmp_path / "state" / "audit.key")).ok


def test_bare_registry_takes_the_users_config(registry: str, built: dict, tmp_path: Path) -> None:
    """The brief's `--registry URL` and nothing else: pins, grants and resolve from the user's extism.yaml."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    with WeatherAPI() as api:
        config = tmp_path / "config"
        config.mkdir()
        (config / "extism.yaml").write_text(
            json.dumps(
                {
                    "registries": {"default": registry},
                    "plugins": {"@examples/weather": "^1"},
                    "grants": {
                        "@examples/weather": {
                            "hosts": ["api.weather.example"],
                            "config": {"api_key": api.api_key},
                            "host_functions": ["log"],
                        }
                    },
                    "allow": ["@examples/*"],
                    "resolve": {"api.weather.example": api.url},
                }
            )
        )
        params = StdioServerParameters(
            command=sys.executable, args=[*SERVER, f"--registry={registry}"], env=_env(tmp_path), cwd=str(tmp_path)
        )

        async def main() -> tuple[set[str], Any, Any]:
            with anyio.fail_after(60):
                async with Client(params) as c:
                    tools = {t.name for t in (await c.list_tools()).tools}
                    weather = await c.call_tool("examples_weather-get_weather", {"city": "Paris"})
                    search = await c.call_tool("extism_search", {"query": "probe"})
                    return tools, weather, search

        tools, weather, search = anyio.run(main)
    assert tools == {"extism_plugins", "examples_weather-get_weather"} | DISCOVERY
    assert _doc(weather)["temp_c"] == 21.5
    assert _doc(search)["plugins"][0]["allowed"] is True  # the file's allow: ["@examples/*"]


def test_allow_needs_registry_and_bad_ranges_are_one_line(tmp_path: Path) -> None:
    r = run_cli(*SERVER, "--dist", str(tmp_path), "--allow", "@x/*", "--no-audit", env=_env(tmp_path))
    assert r.returncode == 1 and "--allow PATTERN needs --registry URL" in r.stderr
    r = run_cli(*SERVER, "--registry", str(tmp_path / "none"), "--allow", "@x/y@^^1", "--list", env=_env(tmp_path))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "--allow '@x/y@^^1'" in r.stderr, r.stderr
