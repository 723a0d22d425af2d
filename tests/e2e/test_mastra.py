"""A real Mastra agent (no LLM) using the plugins through extism-mcp-server over stdio:
@mastra/mcp 2.0.0 + @mastra/core 1.71.0 + zod 4, pinned in this directory's package-lock.json."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from extism_platform.audit import load_key, read_records, verify_log
from extism_platform.demo import WeatherAPI
from extism_platform.mastra import PROJECT_DIR, run_script
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
E2E_DIR = Path(__file__).resolve().parent


def test_pins_match_the_packaged_client() -> None:
    mine = json.loads((E2E_DIR / "package.json").read_text())["dependencies"]
    packaged = json.loads((PROJECT_DIR / "package.json").read_text())["dependencies"]
    assert mine == packaged == {"@mastra/core": "1.71.0", "@mastra/mcp": "2.0.0", "zod": "4.6.7"}


def test_mastra_agent_uses_the_weather_plugin(built: dict, weather_api: WeatherAPI, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    server = {
        "command": sys.executable,
        "args": [
            "-m",
            "extism_platform.cli.mcp_server",
            "--dist",
            str(built["dist"]),
            "--trust-key",
            str(built["pub"]),
            "--grant",
            "@examples/weather:host=api.weather.example",
            "--grant",
            "@examples/weather:config.api_key=${WX_KEY}",
            "--grant",
            "@examples/weather:host_function=log",
            "--resolve",
            f"api.weather.example={weather_api.url}",
            "--audit-log",
            str(audit),
            "--state-dir",
            str(tmp_path),
        ],
        "env": {"PYTHONPATH": str(ROOT), "WX_KEY": weather_api.api_key},
    }
    weather = "extism_examples_weather-get_weather"
    config = {
        "id": "e2e-weather",
        "servers": {"extism": server},
        "calls": [
            {"tool": weather, "args": {"city": "Paris"}},
            {"tool": weather, "args": {"city": "Atlantis"}},
            {"tool": weather, "args": {"town": "Paris"}},
            {"tool": "extism_examples_probe-fetch", "args": {"url": "https://evil.example/"}},
            {"tool": "extism_extism_plugins", "args": {}},
        ],
        "agent": True,
        "agent_calls": [{"tool": weather, "args": {"city": "London"}}],
        "repeat": {"tool": weather, "args": {"city": "Tokyo"}, "times": 50},
    }
    started = time.perf_counter()
    report = run_script(PROJECT_DIR / "verify.mjs", config, project=E2E_DIR, timeout=300)
    print(f"mastra e2e: {time.perf_counter() - started:.1f} s, timings {report['timings_ms']}")
    assert "error" not in report, report.get("error")
    assert weather in report["tools"] and "extism_examples_probe-echo" in report["tools"]
    paris, atlantis, bad_args, denied, plugins = report["calls"]
    assert paris["ok"] and paris["result"] == {
        "city": "Paris",
        "temp_c": 21.5,
        "conditions": "sunny",
        "humidity_pct": 40,
        "wind_kph": 12,
    }
    assert not atlantis["ok"] and "unknown city 'Atlantis'" in atlantis["error"]  # isError → throws in 2.x
    assert bad_args["ok"] and bad_args["result"]["error"] is True  # rejected client-side by the schema
    assert not denied["ok"] and "not allowed HTTP access to evil.example" in denied["error"]
    assert plugins["ok"]
    assert {p["name"] for p in plugins["result"]["plugins"]} == {"@examples/weather", "@examples/probe"}
    assert report["agent_tools"] == report["tools"]
    (london,) = report["agent_calls"]
    assert london["ok"] and london["result"]["city"] == "London" and london["result"]["temp_c"] == 14.0
    calls = [r for r in read_records(audit) if r["kind"] == "call"]
    assert sum(c["outcome"] == "ok" for c in calls) >= 52 and verify_log(audit, load_key(tmp_path / "audit.key")).ok
    assert {r["city"] for r in weather_api.requests} >= {"Paris", "London", "Tokyo"}


def test_extism_mastra_verify_cli(built: dict, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    r = run_cli(
        "-m",
        "extism_platform.cli.mastra",
        "verify",
        "--json",
        "--call",
        'examples_probe-echo={"text":"from mastra"}',
        "--",
        "--dist",
        str(built["dist"]),
        "--trust-key",  # signed builds load only with their signer's key (issue 15, item 13)
        str(built["pub"]),
        "--audit-log",
        str(tmp_path / "a.jsonl"),
        cwd=tmp_path,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["calls"][0]["result"] == {"text": "from mastra"}
    assert "extism_examples_weather-get_weather" in report["agent_tools"]


def test_brief_config_as_written_and_a_scripted_agent(built: dict, tmp_path: Path) -> None:
    """The brief's `MCPClient` config exactly (`command: "extism-mcp-server", args: ["--registry=URL"]`)
    and its example: `agent.generate("What's the weather in New York?")` on a Mastra Agent whose model is
    the AI SDK's scripted `MockLanguageModelV3` (no network). The user's choices — which plugin, its
    grants, what the agent may enable, the loopback stand-in of the weather API — live in the user's
    own extism.yaml under $HOME, where the server finds them; Mastra passes the server only HOME, PATH
    and a few more variables."""
    import os

    from registry_static.repository import Repository

    repo = Repository.init(tmp_path / "registry", tmp_path / "keys", name="demo", fsync=False)
    repo.add_scope("@examples", [(built["pub"].read_text(), "demo")])
    repo.publish(sorted(built["dist"].glob("*.wasm")))
    registry = (tmp_path / "registry").as_uri()
    home = tmp_path / "home"
    config_dir = home / ".config" / "extism-platform"
    config_dir.mkdir(parents=True)
    weather = "extism_examples_weather-get_weather"
    with WeatherAPI() as api:
        (config_dir / "extism.yaml").write_text(
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
                    "allow": ["@examples/probe"],
                    "resolve": {"api.weather.example": api.url},
                }
            )
        )
        env = {
            "HOME": str(home),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            # where run_script's npm-installed client lives (node itself does not pass it on)
            "EXTISM_PLATFORM_CACHE": os.environ.get(
                "EXTISM_PLATFORM_CACHE", str(Path.home() / ".cache/extism-platform")
            ),
        }
        report = run_script(
            E2E_DIR / "agent_weather.mjs",
            {"registry": registry, "weather_tool": weather},
            project=E2E_DIR,
            timeout=300,
            env=env,
        )
        requests = list(api.requests)
    assert "error" not in report, report.get("error")
    assert weather in report["tools"] and "extism_extism_search" in report["tools"]
    assert not any(t.startswith("extism_examples_probe") for t in report["tools"])  # not pinned, not enabled
    assert report["tool_calls"] == [weather]
    (result,) = report["tool_results"]
    ny = result.get("structuredContent", result)
    assert ny["city"] == "New York" and isinstance(ny["temp_c"], (int, float))
    # the tool result reached the model's second step, and its final text
    first, second = report["prompts"]
    assert not any(m["role"] == "tool" for m in first)
    assert any(m["role"] == "tool" for m in second) and "New York" in json.dumps(second)
    assert report["text"] == f"It is {ny['temp_c']} °C and {ny['conditions']} in New York."
    assert [r["city"] for r in requests] == ["New York"]
    # discovery through the same Mastra client: the allowed plugin is enabled, then listed and callable
    assert report["search"]["plugins"][0]["name"] == "@examples/probe"
    assert report["describe"]["signature"]["verified"] is True
    assert report["enable"]["enabled"] is True
    assert "extism_examples_probe-echo" in report["tools_after_enable"]
    assert report["echo"] == {"text": "enabled through Mastra"}
    audit = home / ".local" / "state" / "extism-platform" / "audit.jsonl"
    calls = [r for r in read_records(audit) if r["kind"] == "call"]
    key = load_key(home / ".local" / "state" / "extism-platform" / "audit.key")
    assert [c["export"] for c in calls] == ["get_weather", "echo"] and verify_log(audit, key).ok
