"""The scan at publish (`extism-registry publish`, `extism-plugin publish`) and at install: modules
written as WAT, assembled with wasmtime's wat2wasm and signed with a test author key; each attack its
own test; a refused publish writes nothing."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import wasmtime
import yaml

from plugin_format import signing
from plugin_format.artifact import PLUGIN_JSON_SCHEMA, artifact_paths, canonical_json, sha256_hex
from plugin_format.errors import ModuleError, ScanError
from plugin_format.manifest import load_manifest
from plugin_format.scan import ScanLimits, scan_module
from registry_static.client import RegistryClient, normalize_url
from registry_static.repository import Repository
from tests.conftest import run_cli

from .conftest import Authors, Reg

UNDECLARED_KV = '(import "extism:host/user" "kv_get" (func (param i64) (result i64)))'
HTTP = '(import "extism:host/env" "http_request" (func (param i64 i64) (result i64)))'


def wat(exports: tuple[str, ...] = ("greet",), imports: tuple[str, ...] = (), pages: int = 1) -> bytes:
    funcs = "\n".join(f'  (func (export "{e}") (result i32) (i32.const 0))' for e in exports)
    return wasmtime.wat2wasm(f'(module\n  {" ".join(imports)}\n  (memory (export "memory") {pages})\n{funcs})')


def project(
    root: Path,
    key: Path,
    wasm: bytes,
    *,
    name: str = "@acme/scanned",
    exports: tuple[str, ...] = ("greet",),
    **extra: Any,
) -> Path:
    """A plugin project whose dist/ holds `wasm` with the plugin.json and signature a build would write."""
    proj = root / "proj"
    (proj / "dist").mkdir(parents=True)
    doc = {
        "name": name,
        "version": "1.0.0",
        "language": "c",
        "license": "MIT",
        "exports": [{"name": e, "description": e, "input_schema": {"type": "object"}} for e in exports],
        **extra,
    }
    (proj / "plugin.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    manifest = load_manifest(proj)
    wasm_p, json_p, sig_p = artifact_paths(proj / "dist", manifest.artifact_stem)
    pj = canonical_json(
        {
            "schema": PLUGIN_JSON_SCHEMA,
            **manifest.to_dict(),
            "wasm": {"file": wasm_p.name, "sha256": sha256_hex(wasm), "size": len(wasm)},
            "toolchain": {"name": "wat2wasm", "version": metadata.version("wasmtime")},
        }
    )
    stmt = signing.statement(manifest.name, manifest.version, sha256_hex(wasm), sha256_hex(pj))
    wasm_p.write_bytes(wasm)
    json_p.write_bytes(pj)
    sig_p.write_bytes(canonical_json(signing.sign_statement(stmt, signing.load_private_key(key))))
    return proj


def tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def publish(reg: Reg, proj: Path) -> subprocess.CompletedProcess[str]:
    wasm = next((proj / "dist").glob("*.wasm"))
    return run_cli(
        "-m", "registry_static.cli", "publish", str(reg.dir), str(wasm), "--keys", str(reg.keys), timeout=120
    )


def refused(reg: Reg, proj: Path, *needles: str) -> str:
    """Publish must fail with one line per problem and leave the registry byte for byte as it was."""
    before = tree(reg.dir)
    p = publish(reg, proj)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "refused by the registry's scan (nothing was written)" in p.stderr, p.stderr
    for needle in needles:
        assert needle in p.stderr, (needle, p.stderr)
    assert "Traceback" not in p.stderr
    assert tree(reg.dir) == before
    return p.stderr


def test_a_well_formed_wat_module_publishes(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    p = publish(reg, project(tmp_path, authors.alice, wat()))
    assert p.returncode == 0, p.stderr
    assert "@acme/scanned" in reg.repo().packages("acme")


def test_publish_refuses_an_undeclared_host_function_import(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    refused(
        reg,
        project(tmp_path, authors.alice, wat(imports=(UNDECLARED_KV,))),
        "import extism:host/user::kv_get is not declared",
    )


def test_extism_plugin_publish_refuses_an_undeclared_host_function(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    proj = project(tmp_path, authors.alice, wat(imports=(UNDECLARED_KV,)))
    before = tree(reg.dir)
    p = run_cli(
        "-m",
        "extism_platform.cli.plugin",
        "publish",
        str(proj),
        "--registry",
        str(reg.dir),
        "--keys",
        str(reg.keys),
        timeout=120,
    )
    assert p.returncode == 1 and "kv_get is not declared" in p.stderr, p.stderr
    assert tree(reg.dir) == before


def test_a_declared_host_function_passes(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    proj = project(tmp_path, authors.alice, wat(imports=(UNDECLARED_KV,)), permissions={"host_functions": ["kv"]})
    assert publish(reg, proj).returncode == 0


def test_publish_refuses_a_missing_export(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    proj = project(tmp_path, authors.alice, wat(exports=("greet",)), exports=("greet", "forecast"))
    refused(reg, proj, "export 'forecast' is declared in plugin.yaml but the module does not export it")


def test_publish_refuses_an_export_with_the_wrong_signature(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    module = wasmtime.wat2wasm('(module (memory (export "memory") 1) (func (export "greet") (param i32)))')
    refused(reg, project(tmp_path, authors.alice, module), "export 'greet' has signature")


def test_publish_refuses_wasi_imports_without_wasi(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    fd = '(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))'
    refused(reg, project(tmp_path, authors.alice, wat(imports=(fd,))), "needs WASI: set `wasi: true`")


def test_publish_refuses_an_import_from_an_unknown_module(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    other = '(import "env" "system" (func (param i32) (result i32)))'
    refused(reg, project(tmp_path, authors.alice, wat(imports=(other,))), "import env::system (func) is from a module")


def test_publish_refuses_an_invalid_module(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    # a code section with a body but no function section: parses, fails validation
    module = b"\0asm\x01\0\0\0" + bytes([10, 4, 1, 2, 0, 0x0B])
    refused(reg, project(tmp_path, authors.alice, module), "invalid WebAssembly module")


def test_publish_refuses_an_oversize_module(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    cfg_path = reg.dir / "registry.json"
    cfg = json.loads(cfg_path.read_text())
    cfg_path.write_text(json.dumps({**cfg, "scan": {"max_wasm_bytes": 16}}))
    refused(reg, project(tmp_path, authors.alice, wat()), "this registry accepts at most 16", "scan.max_wasm_bytes")


def test_publish_refuses_memory_above_the_registry_limit(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    proj = project(tmp_path, authors.alice, wat(), permissions={"memory_mib": 2048})
    refused(reg, proj, "permissions.memory_mib is 2048; this registry accepts at most 1024")


def test_publish_refuses_initial_memory_above_its_own_memory_mib(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    proj = project(tmp_path, authors.alice, wat(pages=200), permissions={"memory_mib": 8})
    refused(reg, proj, "memory starts at 200 pages (12.5 MiB), more than its permissions.memory_mib (8)")


def test_a_failed_scan_lists_one_line_per_problem(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    proj = project(tmp_path, authors.alice, wat(imports=(UNDECLARED_KV,)), exports=("greet", "forecast"))
    err = refused(reg, proj, "kv_get", "'forecast'")
    assert len([ln for ln in err.splitlines() if ln.startswith("  ")]) == 2, err


def test_an_http_import_without_hosts_is_a_warning_not_a_refusal(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    p = publish(reg, project(tmp_path, authors.alice, wat(imports=(HTTP,))))
    assert p.returncode == 0, p.stderr
    assert "warning: @acme/scanned@1.0.0: the module imports http_request but permissions.hosts is empty" in p.stderr


def test_install_scans_the_verified_bytes_of_a_registry_that_did_not(
    reg: Reg, authors: Authors, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A registry that does not scan (an older version, or a hostile operator holding an author's key)
    # serves a correctly signed module that imports a host function its manifest does not declare.
    import registry_static.repository as repository

    proj = project(tmp_path, authors.alice, wat(imports=(UNDECLARED_KV,)))
    with monkeypatch.context() as m:
        m.setattr(repository, "scan_module", lambda *a, **k: scan_module(wat(), {}, limits=None, where="-"))
        Repository(reg.dir, reg.keys).publish([next((proj / "dist").glob("*.wasm"))])
    cache = tmp_path / "cache"
    client = RegistryClient(normalize_url(str(reg.dir)), cache)
    with pytest.raises(ScanError, match="(?s)fails the install scan .*kv_get is not declared"):
        client.fetch("@acme/scanned", "1.0.0")
    assert not (cache / "blobs").exists() or not any((cache / "blobs").rglob("*"))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("big", "scan: expected a mapping"),
        ({"max_wasm_bytes": 0}, "scan.max_wasm_bytes: expected a positive integer"),
        ({"max_memory_mib": True}, "scan.max_memory_mib: expected a positive integer"),
        ({"max_size": 1}, "unknown field(s) max_size"),
    ],
)
def test_scan_limits_errors_name_the_option(doc: Any, message: str) -> None:
    with pytest.raises(ModuleError) as info:
        ScanLimits.from_config(doc, "registry.json")
    assert message in str(info.value)


def test_scan_limits_defaults() -> None:
    assert ScanLimits.from_config(None, "r") == ScanLimits(64 * 1024 * 1024, 1024)
    assert ScanLimits.from_config({"max_memory_mib": 32}, "r").max_memory_mib == 32
