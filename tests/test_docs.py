"""Docs: `extism-plugin docs`, the consumer README that gets published, and the guides run as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from extism_platform.cli.plugin import main as plugin_main
from hatch_extism.project_init import init_project
from hatch_extism.toolchains import get_toolchain
from plugin_format.errors import ExtismPlatformError
from plugin_format.paths import cache_dir
from registry_static.client import RegistryClient
from tests.conftest import ROOT

GUIDES = ROOT / "docs" / "guides"
FLOW = ["author.md", "publisher.md", "consumer.md", "agent.md"]
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def shell_blocks(guide: Path) -> list[str]:
    """The ```sh blocks of a guide, in order (```console blocks are shown, not run)."""
    return SH_BLOCK.findall(guide.read_text(encoding="utf-8"))


def _c_available() -> bool:
    try:
        return get_toolchain("c").detect().found
    except ExtismPlatformError:
        return False


# ---------------------------------------------------------------- extism-plugin docs


def _rich_project(tmp_path: Path) -> Path:
    """An init'd project whose plugin.yaml has what a page must show: nested schemas, permissions,
    dependencies and tests of each kind."""
    project = init_project("@acme/forecast", "c", tmp_path / "forecast", "Forecasts for a city").directory
    doc = yaml.safe_load((project / "plugin.yaml").read_text())
    doc["exports"].append(
        {
            "name": "forecast",
            "description": "Daily forecast",
            "input_schema": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7, "default": 3},
                    "units": {"enum": ["metric", "imperial"]},
                },
                "required": ["city"],
            },
            "output_schema": {
                "type": "object",
                "properties": {
                    "days": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"high_c": {"type": "number", "description": "Max"}}},
                    }
                },
            },
        }
    )
    doc["permissions"] = {"hosts": ["api.weather.example"], "config": ["api_key"]}
    doc["dependencies"] = {"@acme/units": "^0.3"}
    doc["tests"].append(
        {
            "name": "two days",
            "export": "forecast",
            "input": {"city": "Oslo", "days": 2},
            "config": {"api_key": "SECRET-TEST-KEY-123"},
            "http_mock": {"https://api.weather.example/*": {"status": 200, "body": "{}"}},
            "expect_json": {"days": [{"high_c": 4}, {"high_c": 6}]},
        }
    )
    (project / "plugin.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return project


def test_docs_page_shows_tools_schemas_permissions_and_examples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _rich_project(tmp_path)
    assert plugin_main(["docs", str(project), "--json", "--registry", "https://plugins.example.com"]) == 0
    out = json.loads(capsys.readouterr().out)
    page = Path(out["page"])
    assert page == project / "build" / "docs" / "index.html" and (page.parent / "assets" / "site.css").is_file()
    tools = {t["name"]: t for t in out["tools"]}
    assert set(tools) == {"greet", "forecast"}
    rows = {r["name"]: r for r in tools["forecast"]["input_rows"]}
    assert rows["city"]["required"] and rows["city"]["type"] == "string" and rows["city"]["description"] == "City name"
    assert rows["days"]["notes"] == "default 3, minimum 1, maximum 7" and not rows["days"]["required"]
    assert rows["units"]["type"] == 'one of "metric", "imperial"'
    assert [r["name"] for r in tools["forecast"]["output_rows"]] == ["days", "days[].high_c"]
    assert tools["forecast"]["examples"] == [
        {
            "export": "forecast",
            "input": {"city": "Oslo", "days": 2},
            "kind": "json",
            "expect": {"days": [{"high_c": 4}, {"high_c": 6}]},
        }
    ]
    assert [e["kind"] for e in tools["greet"]["examples"]] == ["json", "error"]
    assert (
        out["install"]["mcp"]
        == 'extism-mcp-server --registry https://plugins.example.com --plugin "@acme/forecast@^0.1.0"'
    )
    assert 'config: {api_key: "${API_KEY}"}' in out["install"]["extism.yaml"]

    html = page.read_text().replace("&#34;", '"')
    assert "<h1>@acme/forecast" in html and "Forecasts for a city" in html
    assert '<code>city</code> <span class="req"' in html and "<code>days[].high_c</code>" in html
    assert '{"city": "Oslo", "days": 2}' in html and 'missing "name"' in html
    assert "api.weather.example" in html and "<code>api_key</code>" in html and "@acme/units" in html and "^0.3" in html
    assert "extism-plugin add @acme/forecast" in html and "import { MCPClient }" in html
    assert "not published yet" in html and "Signature" not in html
    # the README shown is the consumer's (its tools table), not the developer notes
    assert "| `greet` |" not in html and "<td><code>greet</code></td>" in html and "hatch build" not in html
    assert "SECRET-TEST-KEY-123" not in page.read_text() and "SECRET-TEST-KEY-123" not in json.dumps(out)


def test_docs_without_a_readme_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = init_project("plain", "c", tmp_path / "plain").directory
    (project / "README.md").unlink()
    assert plugin_main(["docs", str(project), "--out", str(tmp_path / "site")]) == 0
    assert "no README.md: the page has no README section" in capsys.readouterr().out
    assert "No README was published" in (tmp_path / "site" / "index.html").read_text()


def test_docs_of_a_broken_plugin_yaml_names_each_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plugin.yaml").write_text("name: Bad Name\nversion: 1\n")
    assert plugin_main(["docs", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and all("plugin.yaml: " in x for x in lines)  # one line per problem
    assert any("version" in x for x in lines) and any("language" in x for x in lines)


# ---------------------------------------------------------------- the guides, run


@dataclass(frozen=True)
class Flow:
    work: Path
    outputs: dict[str, str]


def _guide_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXTISM_", "XDG_"))}
    env.update(
        HOME=str(home),
        # the shared toolchains (compilers) stay where they are; keys, config, state are the new user's
        EXTISM_PLATFORM_CACHE=str(cache_dir()),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    if not _c_available():
        pytest.skip("the guides build a C plugin: `extism-plugin toolchains --install c` first")
    work = tmp_path_factory.mktemp("guides")
    home = work / ".home"
    home.mkdir()
    outputs = {}
    for name in FLOW:
        script = "set -euo pipefail\n" + "\n".join(shell_blocks(GUIDES / name))
        proc = subprocess.run(
            ["bash", "-c", script], cwd=work, env=_guide_env(home), text=True, capture_output=True, timeout=900
        )
        assert proc.returncode == 0, f"docs/guides/{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        outputs[name] = proc.stdout
    return Flow(work, outputs)


def test_every_flow_guide_has_commands_that_run() -> None:
    for name in FLOW:
        assert shell_blocks(GUIDES / name), f"docs/guides/{name} has no sh block"
    assert set(FLOW) <= {p.name for p in GUIDES.iterdir()}


@pytest.mark.toolchain
def test_author_guide_builds_tests_and_documents(flow: Flow) -> None:
    out = flow.outputs["author.md"]
    assert '{"greeting":"Hello, Ada!"}' in out and "2 passed, 0 failed" in out
    page = (flow.work / "weather" / "build" / "docs" / "index.html").read_text()
    assert "@acme/weather" in page and "greets by name" in page


@pytest.mark.toolchain
def test_published_readme_is_the_consumer_readme(flow: Flow) -> None:
    registry = flow.work / "registry"
    root = (registry / "metadata" / "1.root.json").read_bytes()
    client = RegistryClient(str(registry), flow.work / "cache", root=root)
    published = client.readme("@acme/weather", "0.1.0")
    assert published == (flow.work / "weather" / "README.md").read_text()
    assert "extism-plugin add @acme/weather" in published and "developer notes" not in published
    page = (registry / "plugins" / "acme" / "weather.html").read_text()
    assert "greets by name" in page  # the examples travel in the signed plugin.json
    assert "<title>Acme plugins</title>" in (registry / "index.html").read_text()


@pytest.mark.toolchain
def test_consumer_and_agent_guides_install_and_list_tools(flow: Flow) -> None:
    agent = flow.work / "my-agent"
    assert '"@acme/weather": "^0.1.0"' in (agent / "extism.yaml").read_text()
    assert "@acme/weather" in (agent / "extism.lock").read_text()
    assert "acme_weather-greet" in flow.outputs["consumer.md"]
    tools = json.loads((agent / "tools.json").read_text())
    assert "acme_weather-greet" in json.dumps(tools)
    assert "extism-mcp-server" in (agent / "mcp.ts").read_text()
