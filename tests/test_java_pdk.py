"""The Java PDK from the outside: exports with the PDK's signatures, exceptions that reach the host
with their message while the instance lives on, and build errors that name what is wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conformance.runner import REVERSE_BYTES
from hatch_extism.toolchains import get_toolchain
from plugin_format.extism_sdk import extism
from tests.conftest import run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "java-plugin"


def _require_java() -> None:
    toolchain = get_toolchain("java")
    if not toolchain.detect().found:
        try:
            toolchain.ensure_installed()
        except Exception as exc:  # no JDK or Maven here: say which
            pytest.skip(f"no java toolchain: {exc}")


def build(project: Path) -> tuple[int, str]:
    proc = run_cli("-m", "extism_platform.cli.plugin", "build", str(project), "--unsigned")
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def wasm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_java()
    project = tmp_path_factory.mktemp("java") / "fixture"
    shutil.copytree(FIXTURE, project)
    code, log = build(project)
    assert code == 0, log
    return project / "dist" / "java-fixture-0.1.0.wasm"


def plugin(wasm: Path, config: dict[str, str] | None = None) -> extism.Plugin:
    manifest = {"wasm": [{"data": wasm.read_bytes()}], "config": config or {}}
    return extism.Plugin(manifest, wasi=True, functions=[REVERSE_BYTES])


def call(wasm: Path, export: str, text: str):
    return run_cli("-m", "extism_platform.cli.plugin", "call", str(wasm), export, "--input", text)


@pytest.mark.toolchain
def test_string_in_string_out(wasm: Path) -> None:
    proc = call(wasm, "greet", "Zoë")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Hello, Zoë!"


@pytest.mark.toolchain
def test_json_and_a_second_class_with_streams_and_format(wasm: Path) -> None:
    p = plugin(wasm)
    assert json.loads(p.call("divide", b'{"a": 7, "b": 2}')) == {"quotient": 3}
    assert p.call("words", b"b a  B c b") == b"a=1;b=3;c=1;"


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("export", "text", "message"),
    [
        ("parse", "x1", "java.lang.NumberFormatException"),
        ("first", "", "java.lang.NullPointerException"),
        ("divide", '{"a": 1', "dev.extismplatform.pdk.JsonException: unexpected end of input"),
        ("divide", '{"a": 1, "b": "x"}', 'divide: needs integers "a" and "b"'),  # PluginException: exactly
        ("refuse", "no", "java.lang.Exception: refused: no"),  # a checked exception
    ],
)
def test_exceptions_reach_the_host_with_their_message(wasm: Path, export: str, text: str, message: str) -> None:
    proc = call(wasm, export, text)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith(f"extism-plugin: error: {export}: {message}"), proc.stderr


@pytest.mark.toolchain
def test_the_instance_lives_on_after_an_exception(wasm: Path) -> None:
    p = plugin(wasm, {"prefix": "#"})
    assert p.call("count", b"") == b"#1/1"
    with pytest.raises(extism.Error, match="NumberFormatException"):
        p.call("parse", b"x")
    assert p.call("parse", b"21") == b"42"
    # Same instance: the var and the static field both kept counting.
    assert p.call("count", b"") == b"#2/2"
    assert plugin(wasm).call("count", b"") == b"1/1"  # a fresh instance starts over


@pytest.mark.toolchain
def test_integer_division_by_zero_traps(wasm: Path) -> None:
    # TeaVM 0.13.1's wasm backend emits a plain i64.div_s: no ArithmeticException, a trap (the
    # README says so). The call fails without a message; the instance still answers.
    p = plugin(wasm)
    with pytest.raises(extism.Error, match="wasm backtrace"):
        p.call("divide", b'{"a": 1, "b": 0}')
    assert p.call("greet", b"again") == b"Hello, again!"


def _project(tmp_path: Path, method: str) -> Path:
    """A project whose one class holds `method` (one line) marked `@Export(name = "f")`, on line 5."""
    project = tmp_path / "broken"
    (project / "src").mkdir(parents=True)
    (project / "plugin.yaml").write_text(
        "name: broken\nversion: 0.1.0\nlanguage: java\nsource: src\nwasi: true\nexports:\n  - name: f\n"
    )
    (project / "src" / "Broken.java").write_text(
        "import dev.extismplatform.pdk.Export;\n\n"
        f'public final class Broken {{\n    @Export(name = "f")\n    {method}\n}}\n'
    )
    return project


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("method", "expected"),
    [
        # TeaVM's class library has no Integer.sum: the build names it and the caller.
        (
            "public static String f(String s) { return Integer.toString(Integer.sum(s.length(), 1)); }",
            ["TeaVM could not compile the plugin", "java.lang.Integer.sum", "Broken.f"],
        ),
        ('public String f() { return ""; }', ["Broken.f", "public and static"]),
        ("public static int f(int x) { return x; }", ["takes nothing, byte[]"]),
        ("public static String f() { return 1; }", ["javac failed", "Broken.java:5: error: incompatible types"]),
    ],
    ids=["missing-class-library-method", "not-static", "bad-parameter", "javac-error"],
)
def test_build_errors_name_the_problem(tmp_path: Path, method: str, expected: list[str]) -> None:
    _require_java()
    code, log = build(_project(tmp_path, method))
    assert code == 1, log
    for text in expected:
        assert text in log, log
    assert not list((tmp_path / "broken").glob("dist/*.wasm"))
