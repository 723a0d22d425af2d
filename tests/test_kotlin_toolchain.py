"""The Kotlin driver and PDK beyond the conformance suite: the PDK's JSON reader/writer and its
error mapping in the real host, reproducible and location-independent builds, and compiler errors
that name the file and line. One small plugin, built for real (skipped without a JDK + the compiler)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hatch_extism.toolchains import BuildRequest, get_toolchain
from plugin_format.errors import BuildError
from plugin_format.extism_sdk import extism

PLUGIN = """\
import extism.pdk.Json
import extism.pdk.Var
import extism.pdk.handle
import extism.pdk.inputString
import extism.pdk.output
import extism.pdk.outputJson
import kotlin.wasm.WasmExport

@WasmExport
fun roundtrip(): Int = handle { outputJson(Json.parse(inputString())) }

// Not a PluginError: the host sees the exception's class and message, and the instance lives on.
@WasmExport
fun boom(): Int = handle {
    Var.set("booms", ((Var.getString("booms")?.toInt() ?: 0) + 1).toString())
    check(inputString().isEmpty()) { "boom number ${Var.getString("booms")}" }
    output("quiet")
}
"""


@pytest.fixture(scope="module")
def toolchain():
    chain = get_toolchain("kotlin")
    status = chain.detect()
    if not status.found:
        pytest.skip(f"no Kotlin toolchain: {status.install_hint}")
    return chain


def _project(root: Path, source: str = PLUGIN) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "Plugin.kt").write_text(source, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def wasm(toolchain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = _project(tmp_path_factory.mktemp("kotlin") / "first")
    result = toolchain.build(BuildRequest(project, project / "out.wasm", exports=["roundtrip", "boom"]))
    assert result.wasi  # the standard library imports random_get
    return result.wasm


@pytest.mark.toolchain
@pytest.mark.parametrize(
    "doc",
    [
        {"a": [1, -2, 3.5, 1e300, True, False, None], "b": {"nested": {"x": ""}}},
        {"escapes": 'quote " backslash \\ slash / nl \n tab \t ctl \u0001 ü 😀'},
        [9223372036854775807, -9223372036854775808, 0.1, -0.0],
        "just a string",
        [],
        {},
    ],
)
def test_json_round_trips_through_the_pdk(wasm: Path, doc: object) -> None:
    plugin = extism.Plugin(wasm.read_bytes(), wasi=True, functions=[])
    out = plugin.call("roundtrip", json.dumps(doc).encode())
    assert json.loads(out) == doc


@pytest.mark.toolchain
@pytest.mark.parametrize("text", ['{"a": 1', "[1,]", '{"a" 1}', "nul", '"\\x"', "01", "1 2", '"\u0001"', ""])
def test_malformed_json_is_an_error_naming_the_offset(wasm: Path, text: str) -> None:
    plugin = extism.Plugin(wasm.read_bytes(), wasi=True, functions=[])
    with pytest.raises(extism.Error) as caught:
        plugin.call("roundtrip", text.encode())
    assert "JsonException: " in str(caught.value) and "at offset" in str(caught.value)


@pytest.mark.toolchain
def test_an_exception_is_the_calls_error_and_the_next_call_works(wasm: Path) -> None:
    plugin = extism.Plugin(wasm.read_bytes(), wasi=True, functions=[])
    for n in (1, 2):
        with pytest.raises(extism.Error) as caught:
            plugin.call("boom", b"loud")
        assert str(caught.value) == f"IllegalStateException: boom number {n}"
    assert plugin.call("boom", b"") == b"quiet"


@pytest.mark.toolchain
def test_same_sources_elsewhere_give_the_same_bytes(toolchain, wasm: Path, tmp_path: Path) -> None:
    project = _project(tmp_path / "a folder with spaces")
    seen: list[str] = []
    result = toolchain.build(BuildRequest(project, project / "out.wasm"), progress=seen.append)
    assert result.wasm.read_bytes() == wasm.read_bytes()
    assert not any("the PDK" in line for line in seen), seen  # the PDK's klib came from the cache


@pytest.mark.toolchain
def test_a_compile_error_names_file_and_line(toolchain, tmp_path: Path) -> None:
    project = _project(tmp_path / "broken", "import kotlin.wasm.WasmExport\n\n@WasmExport\nfun f(): Int = nope()\n")
    with pytest.raises(BuildError) as caught:
        toolchain.build(BuildRequest(project, project / "out.wasm"))
    assert "Plugin.kt:4:16" in str(caught.value) and "nope" in str(caught.value)
