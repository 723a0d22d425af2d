"""The MCP conformance suite (npm `@modelcontextprotocol/conformance`, pinned in mcp_conformance/)
against `extism-mcp-server --http` serving the example plugins: every server scenario that applies
to a tools/resources/prompts server passes; each other one is listed here with the reason it does
not apply, and a scenario the pinned suite has that is in neither list fails the test."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from extism_platform.mastra import find_node, install_project
from tests.run.mcp_http import mcp_server

pytestmark = pytest.mark.e2e
PROJECT = Path(__file__).resolve().parent / "mcp_conformance"

APPLIES = {
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
    "completion-complete",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "dns-rebinding-protection",
    "server-sse-polling",
    "server-sse-multiple-streams",
}
#: the reference server's fixture tools: tools here are plugin exports, named `<scope>_<plugin>-<export>`
_FIXTURE_TOOL = (
    "calls a fixture tool of the suite's reference server (test_* names); "
    "a plugin's tools are named <scope>_<plugin>-<export>"
)
DOES_NOT_APPLY = {
    "logging-set-level": "no `logging` capability: plugins' log lines go to the audit log and stderr",
    "tools-call-simple-text": _FIXTURE_TOOL,
    "tools-call-image": _FIXTURE_TOOL + "; a plugin's result is text (or JSON)",
    "tools-call-audio": _FIXTURE_TOOL + "; a plugin's result is text (or JSON)",
    "tools-call-embedded-resource": _FIXTURE_TOOL + "; a plugin's result is text (or JSON)",
    "tools-call-mixed-content": _FIXTURE_TOOL + "; a plugin's result is text (or JSON)",
    "tools-call-with-logging": _FIXTURE_TOOL + "; no logging capability",
    "tools-call-error": _FIXTURE_TOOL + " (a plugin's error is an isError result: tests/run/test_mcp.py)",
    "tools-call-with-progress": _FIXTURE_TOOL + " (plugin progress: tests/run/test_progress.py)",
    "tools-call-sampling": _FIXTURE_TOOL + "; plugins cannot ask the client for sampling",
    "tools-call-elicitation": _FIXTURE_TOOL + "; plugins cannot ask the client for elicitation",
    "elicitation-sep1034-defaults": _FIXTURE_TOOL + "; no elicitation",
    "elicitation-sep1330-enums": _FIXTURE_TOOL + "; no elicitation",
    "json-schema-2020-12": _FIXTURE_TOOL + " (schema dialects: tests/run/test_protocol.py)",
    "prompts-get-embedded-resource": "prompt messages in plugin.yaml are text",
    "prompts-get-with-image": "prompt messages in plugin.yaml are text",
}
_RUN_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[0-9-]+Z$")


def test_mcp_conformance_suite(built: dict, tmp_path: Path) -> None:
    node = find_node()
    suite = install_project(PROJECT) / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
    args = ["--dist", str(built["dist"]), "--trust-key", str(built["pub"])]
    args += ["--grant", "@examples/probe:host_function=context"]  # its template's export reads its context
    args += ["--audit-log", str(tmp_path / "audit.jsonl"), "--state-dir", str(tmp_path / "state")]
    out = tmp_path / "results"
    env = {**os.environ, "NO_COLOR": "1"}
    with mcp_server(args, tmp_path / "server.log") as (port, _):
        listed = subprocess.run([str(node), str(suite), "list"], capture_output=True, text=True, timeout=60, env=env)
        run = subprocess.run(
            [
                str(node),
                str(suite),
                "server",
                "--url",
                f"http://127.0.0.1:{port}/mcp",
                "--suite",
                "all",
                "-o",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
    server_part = listed.stdout.split("Client scenarios", 1)[0]
    scenarios = set(re.findall(r"^\s+- (\S+) \[", server_part, flags=re.M))
    assert scenarios, listed.stdout + listed.stderr
    unknown = scenarios - APPLIES - set(DOES_NOT_APPLY)
    assert not unknown, f"the pinned suite has scenarios this test does not classify: {sorted(unknown)}"
    results: dict[str, list[dict]] = {}
    for d in out.iterdir():
        m = _RUN_DIR.match(d.name)
        if m and (d / "checks.json").is_file():
            results[m["scenario"]] = json.loads((d / "checks.json").read_text())
    missing = APPLIES - set(results)
    assert not missing, f"no results for {sorted(missing)}: {run.stdout[-3000:]}{run.stderr[-2000:]}"
    failed = {
        name: [f"{c.get('id')}: {c.get('errorMessage')}" for c in checks if c.get("status") == "FAILURE"]
        for name, checks in results.items()
        if name in APPLIES
    }
    failed = {k: v for k, v in failed.items() if v}
    assert not failed, json.dumps(failed, indent=2)
    passed = sum(1 for n in APPLIES for c in results[n] if c.get("status") == "SUCCESS")
    print(f"MCP conformance: {len(APPLIES)} applicable scenarios, {passed} checks passed, none failed")
