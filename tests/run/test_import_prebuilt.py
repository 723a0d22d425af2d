"""`extism-plugin import`: a module built by an official Extism PDK (npm `@extism/as-pdk`, see
tests/conftest.py) becomes a signed plugin project (`language: prebuilt`) that is served by
`extism-mcp-server --dist` and called over MCP with the Python `mcp` client, its exports taking
plain text (`input: text`). Permissions come from the module's imports (WAT modules shaped like
the official PDKs' output, importing from `extism:host/env`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
import wasmtime
import yaml

from plugin_format.artifact import verify_artifact
from plugin_format.signing import generate_keypair, load_public_key
from tests.conftest import ROOT, run_cli

CLI = ["-m", "extism_platform.cli.plugin"]


@pytest.fixture(scope="module")
def imported(official_as_pdk_module: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The official-PDK module imported once, signed with a fresh key."""
    root = tmp_path_factory.mktemp("imported")
    key = root / "author.key"
    generate_keypair(key)
    project = root / "count-vowels"
    proc = run_cli(
        *CLI, "import", str(official_as_pdk_module), "--name", "count-vowels", "--version", "1.0.0",
        "--out", str(project), "--key", str(key), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return {"project": project, "key": key, "pub": Path(f"{key}.pub"), "doc": json.loads(proc.stdout)}


def test_import_writes_a_prebuilt_project_and_signed_artifacts(imported: dict, official_as_pdk_module: Path) -> None:
    project = imported["project"]
    doc = yaml.safe_load((project / "plugin.yaml").read_text())
    assert doc["language"] == "prebuilt" and doc["build"] == {"module": "module.wasm"}
    assert [(e["name"], e["input"]) for e in doc["exports"]] == [("count_vowels", "text"), ("fail", "text")]
    assert doc["permissions"] == {}  # the module imports only the kernel's memory and I/O
    assert (project / "module.wasm").read_bytes() == official_as_pdk_module.read_bytes()
    assert (project / "pyproject.toml").is_file()  # `hatch build` works on it as on any project
    wasm = project / "dist" / "count-vowels-1.0.0.wasm"
    verified = verify_artifact(wasm, keys=[load_public_key(imported["pub"])])
    assert verified.trusted and verified.manifest["toolchain"] == {"name": "prebuilt", "version": "1"}
    assert imported["doc"]["artifacts"]["signed"] is True


def test_build_of_the_imported_project_is_byte_identical(imported: dict, tmp_path: Path) -> None:
    """`extism-plugin build` on the imported project takes the same path (check, sign) and gives
    the same wasm and plugin.json."""
    project = imported["project"]
    proc = run_cli(*CLI, "build", str(project), "--out", str(tmp_path), "--key", str(imported["key"]))
    assert proc.returncode == 0, proc.stderr
    for suffix in (".wasm", ".plugin.json"):
        name = f"count-vowels-1.0.0{suffix}"
        assert (tmp_path / name).read_bytes() == (project / "dist" / name).read_bytes()


def test_imported_module_served_and_called_over_mcp_with_text_input(imported: dict, tmp_path: Path) -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "extism_platform.cli.mcp_server",
            "--dist",
            str(imported["project"] / "dist"),
            "--trust-key",
            str(imported["pub"]),
            "--audit-log",
            str(tmp_path / "audit.jsonl"),
            "--state-dir",
            str(tmp_path / "state"),
        ],  # fmt: skip
        env={"PYTHONPATH": str(ROOT)},
        cwd=str(tmp_path),
    )

    async def main() -> dict[str, Any]:
        with anyio.fail_after(60):
            async with Client(params) as client:
                tools = {t.name: t for t in (await client.list_tools()).tools}
                ok = await client.call_tool("count-vowels-count_vowels", {"input": "Hello, World"})
                failed = await client.call_tool("count-vowels-fail", {"input": "boom"})
                return {"tools": tools, "ok": ok, "failed": failed}

    out = anyio.run(main)
    schema = out["tools"]["count-vowels-count_vowels"].input_schema
    assert schema["properties"] == {
        "input": {"type": "string", "description": schema["properties"]["input"]["description"]}
    }
    assert not out["ok"].is_error
    # the plugin got the raw text (not the arguments' JSON) and echoed it back
    assert json.loads(out["ok"].content[0].text) == {"count": 3, "text": "Hello, World"}
    assert out["failed"].is_error and "fail: boom" in out["failed"].content[0].text


def _wat_module(tmp_path: Path, imports: str, name: str = "m.wasm") -> Path:
    """A module shaped like an official PDK's: kernel imports from `extism:host/env`, one export."""
    wat = f"""(module {imports}
      (memory (export "memory") 1)
      (func (export "run") (result i32) i32.const 0)
      (func (export "_initialize"))
      (func (export "helper") (param i32) (result i32) local.get 0))"""
    path = tmp_path / name
    path.write_bytes(wasmtime.wat2wasm(wat))
    return path


def test_permissions_are_derived_from_the_imports(tmp_path: Path) -> None:
    module = _wat_module(
        tmp_path,
        """(import "extism:host/env" "http_request" (func (param i64 i64) (result i64)))
           (import "extism:host/env" "http_headers" (func (result i64)))
           (import "extism:host/env" "config_get" (func (param i64) (result i64)))
           (import "extism:host/user" "kv_get" (func (param i64) (result i64)))
           (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))""",
    )
    proc = run_cli(*CLI, "import", str(module), "--name", "@acme/fetcher", "--out", str(tmp_path / "p"), "--unsigned")
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "p" / "plugin.yaml").read_text()
    doc = yaml.safe_load(text)
    assert [e["name"] for e in doc["exports"]] == ["run"]  # not _initialize, not the (i32) helper
    assert doc["wasi"] is True
    assert doc["permissions"] == {"host_functions": ["kv"], "hosts": [], "http_response_headers": True, "config": []}
    assert "permissions.hosts" in text and "permissions.config" in text  # the to-fill-in notes
    assert "fill in permissions.hosts" in proc.stdout


def test_import_refuses_an_import_no_extism_host_provides(tmp_path: Path) -> None:
    module = _wat_module(tmp_path, '(import "env" "abort" (func (param i32 i32 i32 i32)))')
    proc = run_cli(*CLI, "import", str(module), "--name", "bad", "--out", str(tmp_path / "p"), "--unsigned")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "env::abort (func) is from a module no Extism host provides" in proc.stderr
    assert not (tmp_path / "p").exists()  # nothing written


def test_exports_from_takes_schemas_and_checks_them(tmp_path: Path) -> None:
    module = _wat_module(tmp_path, "")
    theirs = tmp_path / "theirs.yaml"
    theirs.write_text(
        "name: x\nversion: 0.1.0\nlanguage: rust\nexports:\n"
        "  - name: run\n    description: Run it\n    input_schema: {type: object}\n"
    )
    proc = run_cli(
        *CLI, "import", str(module), "--name", "runner", "--out", str(tmp_path / "p"), "--unsigned",
        "--exports-from", str(theirs),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    exports = yaml.safe_load((tmp_path / "p" / "plugin.yaml").read_text())["exports"]
    assert exports == [{"name": "run", "description": "Run it", "input_schema": {"type": "object"}}]
    theirs.write_text(theirs.read_text() + "  - name: missing\n")
    proc = run_cli(
        *CLI, "import", str(module), "--name", "runner", "--out", str(tmp_path / "q"), "--unsigned",
        "--exports-from", str(theirs),
    )  # fmt: skip
    assert proc.returncode != 0 and "does not export missing" in proc.stderr


def test_import_needs_a_signing_key_or_unsigned(tmp_path: Path) -> None:
    module = _wat_module(tmp_path, "")
    env = {"EXTISM_SIGNING_KEY": "", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    proc = run_cli(*CLI, "import", str(module), "--name", "runner", "--out", str(tmp_path / "p"), env=env)
    assert proc.returncode != 0 and "--unsigned" in proc.stderr
    assert not (tmp_path / "p").exists()


def test_import_help_has_examples() -> None:
    proc = run_cli(*CLI, "import", "--help")
    assert proc.returncode == 0 and "extism-plugin import count_vowels.wasm --name count-vowels" in proc.stdout


def test_hatch_build_of_the_imported_project(
    imported: dict, official_as_pdk_module: Path, platform_find_links: dict[str, str], tmp_path: Path
) -> None:
    """`hatch build` goes through the same hooks as for any language: the wheel carries the
    signed artifacts, and the wasm is the imported module byte for byte."""
    import os
    import shutil
    import zipfile

    from tests.test_hatch_build import hatch

    project = tmp_path / "count-vowels"
    shutil.copytree(imported["project"], project, ignore=shutil.ignore_patterns("dist"))
    env = {
        **os.environ,
        **platform_find_links,
        "HATCH_DATA_DIR": str(tmp_path / "hatch-data"),
        "EXTISM_SIGNING_KEY": str(imported["key"]),
    }
    proc = hatch("build", "-t", "wheel", cwd=project, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheel = next((project / "dist").glob("count_vowels-1.0.0-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("extism_plugins/count_vowels/count-vowels-1.0.0.wasm") == official_as_pdk_module.read_bytes()
    assert verify_artifact(
        project / "dist" / "count-vowels-1.0.0.wasm", keys=[load_public_key(imported["pub"])]
    ).trusted
