"""Linked dependencies: a Rust plugin (@demo/thermo) imports functions of a C library plugin
(@demo/units) from module "@demo/units"; both built by the real compilers, signed, published to a
signed registry, installed, and called over MCP — and every way of loading them links and checks
the dependency like the plugin itself."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from extism_platform.host.runtime import Host
from extism_platform.host.sources import from_dist, from_lock, from_registry
from plugin_format import names
from plugin_format.errors import LoadError, ManifestError, ModuleError, PluginCallError
from plugin_format.signing import load_public_key
from tests.conftest import ROOT, run_cli
from tests.run.conftest import build_project, need_toolchains, publish_registry

FIXTURES = ROOT / "tests" / "fixtures" / "linked"
THERMO, UNITS = "@demo/thermo", "@demo/units"
EXPECT = {"fahrenheit": 212.0, "text": "212 °F"}
CLI = ["-m", "extism_platform.cli.plugin"]


@pytest.fixture(scope="session")
def pair(tmp_path_factory: pytest.TempPathFactory, author_key: Path) -> dict[str, Path]:
    """The C library and the Rust plugin that links it, built once, signed, in one dist/ (the
    compilers installed as `extism-plugin toolchains --install` does; else the tests skip, saying why)."""
    need_toolchains("c", "rust")
    out = tmp_path_factory.mktemp("linked")
    units = build_project(FIXTURES / "units", out, author_key)
    thermo = build_project(FIXTURES / "thermo", out, author_key)
    return {"dist": out / "dist", "units": units, "thermo": thermo, "pub": Path(f"{author_key}.pub"), "out": out}


@pytest.fixture()
def installed(pair: dict[str, Path], tmp_path: Path) -> dict[str, Any]:
    """A registry with both published, and a project that installed @demo/thermo (which pulls in
    @demo/units) with the real `extism-plugin install`."""
    url = publish_registry(tmp_path, "@demo", pair["pub"], [pair["units"], pair["thermo"]])
    project = tmp_path / "extism.yaml"
    project.write_text(f'registries:\n  default: {url}\nplugins:\n  "{THERMO}": "^0.1"\n')
    env = {"EXTISM_PLATFORM_CACHE": str(tmp_path / "cache"), "EXTISM_PLATFORM_STATE": str(tmp_path / "state")}
    r = run_cli(*CLI, "install", "--project", str(project), "--json", env=env)
    assert r.returncode == 0, r.stderr
    return {"url": url, "project": project, "env": env, "install": json.loads(r.stdout)}


def _keys(pair: dict[str, Path]) -> list[Any]:
    return [load_public_key(pair["pub"].read_text())]


def _call(host: Host, celsius: float) -> Any:
    return json.loads(host.call(THERMO, "to_fahrenheit", json.dumps({"celsius": celsius}).encode()).output)


def test_module_name_is_the_plugin_name() -> None:
    assert names.module_name("@acme/units") == "@acme/units"
    assert names.module_name("units") == "units"
    with pytest.raises(ManifestError, match="cannot be a linked dependency"):
        names.module_name(names.MAIN_MODULE)


def test_linked_pair_called_over_mcp(installed: dict[str, Any], tmp_path: Path) -> None:
    """publish → install (the dependency locked too) → extism-mcp-server --project → tools/call."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    plugins = {p["name"]: p for p in installed["install"]["plugins"]}
    assert set(plugins) == {THERMO, UNITS} and not plugins[UNITS]["direct"]
    lock = json.loads((tmp_path / "extism.lock").read_text())
    assert lock["plugins"][THERMO]["dependencies"] == {UNITS: "^0.1"}
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "extism_platform.cli.mcp_server",
            "--project",
            str(installed["project"]),
            "--state-dir",
            str(tmp_path / "state"),
            "--audit-log",
            str(tmp_path / "audit.jsonl"),
        ],
        env={"PYTHONPATH": str(ROOT), **installed["env"]},
        cwd=str(tmp_path),
    )

    async def main() -> Any:
        with anyio.fail_after(60):
            async with Client(params) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                assert "demo_thermo-to_fahrenheit" in tools
                listed = await client.call_tool("extism_plugins", {"plugin": THERMO})
                return await client.call_tool("demo_thermo-to_fahrenheit", {"celsius": 100}), listed

    result, listed = anyio.run(main)
    (described,) = listed.structured_content["plugins"]
    assert [(d["name"], d["version"], d["signed"]) for d in described["linked"]] == [(UNITS, "0.1.0", True)]
    assert not result.is_error, result.content
    assert result.structured_content == EXPECT
    loads = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    (load,) = [r for r in loads if r.get("kind") == "load" and r.get("plugin") == THERMO]
    assert [d["plugin"] for d in load["linked"]] == [UNITS]


def test_registry_source_links_the_dependency(installed: dict[str, Any], tmp_path: Path) -> None:
    (art,) = from_registry(installed["url"], [f"{THERMO}@^0.1"], cache_dir=tmp_path / "cache2")
    assert [(d.info.name, d.info.version, d.signed) for d in art.deps] == [(UNITS, "0.1.0", True)]
    host = Host()
    host.add(art)
    assert _call(host, 100) == EXPECT
    host.close()


def test_dist_links_the_dependency_from_the_same_directory(pair: dict[str, Path]) -> None:
    host = Host()
    host.add_all(from_dist(pair["dist"], keys=_keys(pair)))
    assert _call(host, -40) == {"fahrenheit": -40.0, "text": "-40 °F"}
    host.close()


def test_call_and_test_link_with_builds(pair: dict[str, Path]) -> None:
    project = pair["out"] / "projects" / "thermo"
    env = {"EXTISM_TRUSTED_KEYS": str(pair["pub"])}
    r = run_cli(
        *CLI, "call", str(project), "to_fahrenheit", "--input", '{"celsius": 0}', "--with", str(pair["units"]), env=env
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"fahrenheit": 32.0, "text": "32 °F"}
    r = run_cli(*CLI, "test", str(project), "--with", str(pair["dist"]), "--json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["passed"] == 1
    r = run_cli(*CLI, "call", str(project), "to_fahrenheit", "--input", '{"celsius": 0}', env=env)
    error = r.stderr.splitlines()[-1]  # the lines before are the build's progress
    assert r.returncode != 0 and error.startswith("extism-plugin: error: plugin @demo/thermo needs")
    assert f"needs {UNITS} ^0.1, which --with does not have" in error


def test_build_refuses_an_import_from_an_undeclared_module(pair: dict[str, Path], tmp_path: Path) -> None:
    def drop_dependencies(text: str) -> str:
        doc = yaml.safe_load(text)
        del doc["dependencies"]
        return yaml.safe_dump(doc, allow_unicode=True)

    with pytest.raises(ModuleError) as info:
        build_project(FIXTURES / "thermo", tmp_path, None, rewrite=drop_dependencies)
    assert f"import {UNITS}::c_to_f" in str(info.value) and "dependencies:" in str(info.value)


def test_build_refuses_a_dependency_named_main(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="importing module's own name"):
        build_project(
            FIXTURES / "thermo", tmp_path, None, rewrite=lambda t: t.replace(f'"{UNITS}": "^0.1"', 'main: "^0.1"')
        )


def test_tampered_dependency_in_dist_is_refused_at_load(pair: dict[str, Path], tmp_path: Path) -> None:
    dist = shutil.copytree(pair["dist"], tmp_path / "dist")
    units = dist / pair["units"].name
    units.write_bytes(units.read_bytes() + b"\x00\x04evil")  # a trailing custom section: still valid wasm
    with pytest.raises(LoadError, match="demo-units-0.1.0"):
        from_dist(dist, keys=_keys(pair))


def test_dependency_changed_after_verification_is_refused_before_it_runs(pair: dict[str, Path], tmp_path: Path) -> None:
    dist = shutil.copytree(pair["dist"], tmp_path / "dist")
    host = Host()
    host.add_all(from_dist(dist, keys=_keys(pair)))  # verified now; read again when first compiled
    units = dist / pair["units"].name
    units.write_bytes(units.read_bytes() + b"\x00\x04evil")
    with pytest.raises(PluginCallError, match="the wasm changed since it was verified") as info:
        _call(host, 1)
    assert info.value.kind == "unavailable" and "demo-units" in str(info.value)
    host.close()


def test_tampered_dependency_in_the_cache_is_refused(installed: dict[str, Any], tmp_path: Path) -> None:
    lock = json.loads((tmp_path / "extism.lock").read_text())
    blob = tmp_path / "cache" / "blobs" / "sha256" / lock["plugins"][UNITS]["wasm_sha256"]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"\x00\x04evil")
    with pytest.raises(LoadError, match=UNITS):
        from_lock(tmp_path / "extism.lock", cache_dir=tmp_path / "cache")
    r = run_cli(
        "-m",
        "extism_platform.cli.mcp_server",
        "--project",
        str(installed["project"]),
        "--list",
        "--no-audit",
        env=installed["env"],
    )
    assert r.returncode != 0 and UNITS in r.stderr and r.stderr.count("\n") == 1


def _wat_artifact(name: str, wat: str, deps: tuple[Any, ...] = (), dependencies: dict[str, str] | None = None) -> Any:
    """A hand-made (unsigned, in-memory) artifact of a WAT module, for the host's link checks."""
    import dataclasses

    import wasmtime

    from extism_platform.host.sources import from_module

    art = from_module(bytes(wasmtime.wat2wasm(wat)), name=name, permissions={}, wasi=False, source=f"wat:{name}")
    info = dataclasses.replace(art.info, dependencies=dependencies or {})
    return dataclasses.replace(art, info=info, deps=deps)


_LIB = '(module (func (export "c_to_f") (param f64) (result f64) local.get 0))'
_MAIN = """(module (import "lib" "c_to_f" (func $f (param {sig}) (result f64)))
  (func (export "run") (result i32) {arg} call $f drop i32.const 0))"""


@pytest.mark.parametrize(
    ("sig", "arg", "linked", "message"),
    [
        ("f64", "f64.const 1", False, "imports lib::c_to_f, and no plugin named 'lib' is linked"),
        ("i64", "i64.const 1", True, "imports lib::c_to_f as ['i64'] -> ['f64'], but lib exports it as ['f64']"),
    ],
)
def test_host_refuses_an_import_the_linked_modules_do_not_satisfy(
    sig: str, arg: str, linked: bool, message: str
) -> None:
    deps = (_wat_artifact("lib", _LIB),) if linked else ()
    host = Host()
    host.add(_wat_artifact("app", _MAIN.format(sig=sig, arg=arg), deps, {"lib": "*"} if linked else None))
    with pytest.raises(PluginCallError, match="cannot be loaded") as info:
        host.call("app", "run", b"")
    assert message in str(info.value)
    host.close()


def test_host_links_a_satisfied_import() -> None:
    host = Host()
    host.add(_wat_artifact("app", _MAIN.format(sig="f64", arg="f64.const 1"), (_wat_artifact("lib", _LIB),)))
    assert host.call("app", "run", b"").output == b""
    host.close()


def test_link_takes_the_whole_closure_once_and_refuses_a_cycle() -> None:
    from extism_platform.host.sources import link, link_from

    lib = '(module (func (export "f") (result i32) i32.const 0))'
    c = _wat_artifact("c", lib)
    b = _wat_artifact("b", lib, dependencies={"c": "*"})
    a = _wat_artifact("a", lib, dependencies={"b": "*", "c": "*"})
    linked = link(a, link_from([b, c], "the pool"))
    assert [d.info.name for d in linked.deps] == ["b", "c"]
    back = _wat_artifact("b", lib, dependencies={"a": "*"})
    with pytest.raises(LoadError, match="its dependency b needs it back"):
        link(a, link_from([back, c], "the pool"))
    with pytest.raises(LoadError, match="needs c 2.0, which the pool does not have"):
        link(_wat_artifact("a", lib, dependencies={"c": "2.0"}), link_from([c], "the pool"))
