"""MCP resources and prompts with the real `mcp` client, both protocol eras over stdio: every
plugin's docs as a resource, plugin.yaml's fixed-text and export-backed resources, prompts with
their arguments filled in, and the errors (-32602) for what is not there or not given; plus the
manifest's refusals of resources and prompts that cannot work."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from extism_platform.audit import read_records
from plugin_format.errors import ManifestError
from plugin_format.manifest import fill_prompt, from_dict
from tests.conftest import ROOT
from tests.run.test_mcp import SERVER


def _params(built: dict, tmp_path: Path, *extra: str) -> Any:
    from mcp.client.stdio import StdioServerParameters

    args = [*SERVER, "--dist", str(built["dist"]), "--trust-key", str(built["pub"]), *extra]
    args += ["--audit-log", str(tmp_path / "audit.jsonl"), "--state-dir", str(tmp_path / "state")]
    return StdioServerParameters(command=sys.executable, args=args, env={"PYTHONPATH": str(ROOT)}, cwd=str(tmp_path))


async def _errors(fn: Any) -> Any:
    from mcp.shared.exceptions import MCPError

    try:
        await fn()
    except MCPError as exc:
        return exc.error
    raise AssertionError("no error")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_resources_and_prompts_over_mcp(built: dict, tmp_path: Path, mode: str) -> None:
    from mcp import Client

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        with anyio.fail_after(60):
            grant = ("--grant", "@examples/probe:host_function=context")  # whoami reads its context
            async with Client(_params(built, tmp_path, *grant), mode=mode) as client:
                out["resources"] = {str(r.uri): r for r in (await client.list_resources()).resources}
                out["docs"] = await client.read_resource("extism://plugins/@examples/weather")
                out["static"] = await client.read_resource("test://static-text")
                out["whoami"] = await client.read_resource("probe://whoami")
                out["binary"] = await client.read_resource("test://static-binary")
                out["whoami_bin"] = await client.read_resource("probe://whoami.bin")
                out["no_resource"] = await _errors(lambda: client.read_resource("test://nothing-here"))
                out["prompts"] = {p.name: p for p in (await client.list_prompts()).prompts}
                out["simple"] = await client.get_prompt("test_simple_prompt")
                out["args"] = await client.get_prompt("test_prompt_with_arguments", {"arg1": "hello", "arg2": "{x}"})
                out["weather"] = await client.get_prompt("weather_report", {"city": "New York"})
                out["missing"] = await _errors(lambda: client.get_prompt("test_prompt_with_arguments", {"arg1": "a"}))
                out["extra"] = await _errors(lambda: client.get_prompt("test_simple_prompt", {"nope": "x"}))
                out["no_prompt"] = await _errors(lambda: client.get_prompt("no_such_prompt"))
                out["templates"] = (await client.list_resource_templates()).resource_templates
                out["templated"] = await client.read_resource("test://template/123/data")
                out["no_match"] = await _errors(lambda: client.read_resource("test://template/1/2/data"))
                arg1 = {"type": "ref/prompt", "name": "test_prompt_with_arguments"}
                out["complete"] = await client.complete(arg1, {"name": "arg1", "value": "TEST"})
                out["complete_none"] = await client.complete(arg1, {"name": "arg2", "value": ""})
                nope = {"type": "ref/prompt", "name": "no_such_prompt"}
                out["complete_unknown"] = await _errors(lambda: client.complete(nope, {"name": "a", "value": ""}))
                out["tools"] = {t.name: t for t in (await client.list_tools()).tools}
        return out

    out = anyio.run(main)
    resources = out["resources"]
    assert {"extism://plugins/@examples/probe", "extism://plugins/@examples/weather"} <= set(resources)
    assert resources["test://static-text"].mime_type == "text/plain" and resources["test://static-text"].name
    assert resources["probe://whoami"].mime_type == "application/json"
    (docs,) = out["docs"].contents
    assert docs.mime_type == "text/markdown" and docs.text.startswith("# @examples/weather 1.0.0")
    assert "`examples_weather-get_weather`" in docs.text and "api.weather.example" in docs.text
    (static,) = out["static"].contents
    assert static.text == "This is the content of the static text resource." and static.uri == "test://static-text"
    (who,) = out["whoami"].contents
    assert json.loads(who.text)["tool"] == "resource:probe://whoami"  # the export ran, with its own context
    (binary,) = out["binary"].contents
    assert binary.mime_type == "image/png" and base64.b64decode(binary.blob).startswith(b"\x89PNG\r\n")
    (who_bin,) = out["whoami_bin"].contents  # an export's output, not textual: a blob
    assert json.loads(base64.b64decode(who_bin.blob))["tool"] == "resource:probe://whoami.bin"
    assert out["no_resource"].code == -32602 and "test://nothing-here" in out["no_resource"].message
    prompts = out["prompts"]
    assert {"test_simple_prompt", "test_prompt_with_arguments", "weather_report"} <= set(prompts)
    assert [(a.name, a.required) for a in prompts["test_prompt_with_arguments"].arguments] == [
        ("arg1", True),
        ("arg2", True),
    ]
    assert out["simple"].messages[0].role == "user"
    assert out["simple"].messages[0].content.text == "This is a simple prompt for testing."
    # an argument's own braces are not placeholders
    assert out["args"].messages[0].content.text == "Prompt with arguments: arg1='hello', arg2='{x}'"
    assert "New York" in out["weather"].messages[0].content.text
    assert out["missing"].code == -32602 and "arg2" in out["missing"].message
    assert out["extra"].code == -32602 and "'nope'" in out["extra"].message
    assert out["no_prompt"].code == -32602 and "no_such_prompt" in out["no_prompt"].message
    (template,) = [t for t in out["templates"] if t.name == "template-data"]
    assert template.uri_template == "test://template/{id}/data" and template.mime_type == "application/json"
    (templated,) = out["templated"].contents
    assert templated.uri == "test://template/123/data"
    assert json.loads(templated.text)["tool"] == "resource:test://template/123/data"  # the export ran for it
    assert out["no_match"].code == -32602  # a part is one path segment
    assert out["complete"].completion.values == ["testValue1", "testing"] and out["complete"].completion.total == 2
    assert out["complete_none"].completion.values == []  # arg2 declares no values
    assert out["complete_unknown"].code == -32602
    # plugin.yaml `icons:` beside the plugin's tools, prompts and docs; none for a plugin without
    (icon,) = out["tools"]["examples_weather-get_weather"].icons
    assert icon.src.startswith("data:image/svg+xml;base64,") and icon.sizes == ["any"]
    assert prompts["weather_report"].icons == [icon] and resources["extism://plugins/@examples/weather"].icons == [icon]
    assert out["tools"]["examples_probe-echo"].icons is None
    reads = [r for r in read_records(tmp_path / "audit.jsonl") if r.get("kind") == "call" and r["export"] == "whoami"]
    assert sorted(r["tool"] for r in reads) == [
        "resource:probe://whoami",
        "resource:probe://whoami.bin",
        "resource:test://template/123/data",
    ]


BASE = {"name": "@a/b", "version": "1.0.0", "language": "c", "exports": [{"name": "run"}]}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"resources": [{"uri": "test://a", "name": "a"}]}, "resources[0]: give one of `text` or `blob` or `export`"),
        ({"resources": [{"uri": "test://a", "name": "a", "export": "nope"}]}, "'nope' is not one of the declared"),
        (
            {
                "resources": [
                    {"uri": "test://a", "name": "a", "text": "x"},
                    {"uri": "test://a", "name": "b", "text": "y"},
                ]
            },
            "'test://a' is declared 2 times",
        ),
        ({"resources": [{"uri": "no scheme", "name": "a", "text": "x"}]}, "resources[0].uri"),
        ({"resources": [{"uri": "test://b", "name": "b", "blob": "abc"}]}, "resources[0].blob: not valid base64"),
        ({"prompts": [{"name": "p", "messages": [{"role": "user", "text": "hi {who}"}]}]}, "{who} names no argument"),
        ({"prompts": [{"name": "p", "messages": [{"role": "system", "text": "x"}]}]}, "messages[0].role"),
        (
            {"resource_templates": [{"uri_template": "test://fixed", "name": "t", "export": "run"}]},
            "has no {name} part",
        ),
        (
            {"resource_templates": [{"uri_template": "test://{a}{b}", "name": "t", "export": "run"}]},
            "nothing between them",
        ),
        (
            {"resource_templates": [{"uri_template": "test://{a}", "name": "t", "export": "gone"}]},
            "resource_templates[0].export: 'gone'",
        ),
        (
            {"prompts": [{"name": "p", "messages": [{"role": "user", "text": "x"}]}] * 2},
            "'p' is declared 2 times",
        ),
    ],
)
def test_manifest_refuses_resources_and_prompts_that_cannot_work(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError) as err:
        from_dict({**BASE, **extra}, Path("/tmp/plugin.yaml"))
    assert message in str(err.value)


def test_prompt_placeholders() -> None:
    assert fill_prompt("{a} and {b}", {"a": "1"}) == "1 and "  # an optional argument not given: empty
    assert fill_prompt("{{a}} {a}", {"a": "x"}) == "{a} x"
    assert fill_prompt("{a}", {"a": "{b}"}) == "{b}"  # a value is never expanded again


def test_icons_other_than_https_or_inline_images_are_left_out() -> None:
    """plugin.json is signed, but what reaches a client is checked again."""
    from types import SimpleNamespace

    from extism_platform.mcp.tools import plugin_icons

    icons = (
        {"src": "javascript:alert(1)"},
        {"src": "file:///etc/passwd"},
        {"src": "http://plain.example/i.png"},
        {"src": "data:text/html;base64,PGI+"},
        {"src": "https://cdn.example/i.png", "theme": "sepia"},
        {"src": "https://cdn.example/ok.png", "mime_type": "image/png"},
    )
    plugin: Any = SimpleNamespace(info=SimpleNamespace(icons=icons))
    assert [i.src for i in plugin_icons(plugin) or []] == ["https://cdn.example/ok.png"]
    plugin.info.icons = icons[:5]
    assert plugin_icons(plugin) is None


def test_grants_choose_which_exports_are_tools(built: dict, tmp_path: Path) -> None:
    """`tools` / `skip_tools` in a plugin's grant (extism.yaml or --grant): globs over its export names."""
    from tests.conftest import run_cli

    def probe_tools(*options: str) -> list[str]:
        r = run_cli(*SERVER, "--dist", str(built["dist"]), *options, "--list", "--json", "--no-audit", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        names = [t["name"] for t in json.loads(r.stdout)["tools"]]
        assert "examples_weather-get_weather" in names  # another plugin's tools are untouched
        return sorted(n.removeprefix("examples_probe-") for n in names if n.startswith("examples_probe-"))

    assert "spin" in probe_tools()
    filtered = probe_tools("--grant", "@examples/probe:tools=*e*", "--grant", "@examples/probe:skip_tools=*var")
    assert filtered == ["bad_error", "echo", "fetch", "note", "recall", "remember", "wrong_shape"]
    config = tmp_path / "extism.yaml"
    config.write_text('grants:\n  "@examples/probe": {tools: [echo, spin], skip_tools: [spin]}\n')
    assert probe_tools("--config", str(config)) == ["echo"]


def test_two_plugins_declaring_one_uri_or_prompt_the_first_by_name_keeps_it(caplog: pytest.LogCaptureFixture) -> None:
    """And what resources/list shows of a fixed blob without mime_type is what resources/read sends."""
    from types import SimpleNamespace

    from extism_platform.mcp.offerings import Offerings

    def plugin(name: str, **declared: Any) -> Any:
        info = SimpleNamespace(**{"resources": (), "resource_templates": (), "prompts": (), "icons": (), **declared})
        return SimpleNamespace(name=name, version="1.0.0", info=info)

    same = {"uri": "test://x", "name": "x", "blob": "AA=="}
    prompt = {"name": "p", "messages": [{"role": "user", "text": "hi"}]}
    b = plugin("@b/b", resources=(same,), prompts=(prompt,))
    a = plugin(
        "@a/a", resources=(same, {"uri": "extism://plugins/@b/b", "name": "fake", "text": "t"}), prompts=(prompt,)
    )
    offered = Offerings.of([b, a])
    assert offered.resources["test://x"].plugin is a and offered.prompts["p"].plugin is a
    assert (
        offered.resources["extism://plugins/@b/b"].plugin is b and not offered.resources["extism://plugins/@b/b"].decl
    )
    warned = [r.getMessage() for r in caplog.records if "also declared by" in r.getMessage()]
    assert len(warned) == 3, warned  # the URI, the docs URI a plugin tried to take, the prompt
    assert offered.resources["test://x"].to_mcp().mime_type == "application/octet-stream"
    assert offered.same_plugins([b, a]) and not offered.same_plugins([a, b])
