"""A real Mastra agent (no LLM) using the plugins through extism-mcp-server over stdio:
@mastra/mcp 2.0.0 + @mastra/core 1.71.0 + zod 4, pinned in this directory's package-lock.json."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from extism_platform.audit import read_records, verify_log
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
    assert sum(c["outcome"] == "ok" for c in calls) >= 52 and verify_log(audit).ok
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
        "--audit-log",
        str(tmp_path / "a.jsonl"),
        cwd=tmp_path,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["calls"][0]["result"] == {"text": "from mastra"}
    assert "extism_examples_weather-get_weather" in report["agent_tools"]
