"""Attacks on the files users write (issue 15, items 17 and 18): names ending in a newline, YAML alias
bombs, deep nesting, huge export lists. Each is refused quickly with one line naming the file and field."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from extism_platform.grants import host_covers, load_grants
from extism_platform.mcp.naming import tool_name
from hatch_extism.project_init import init_project
from plugin_format.errors import ExtismPlatformError, ManifestError
from plugin_format.manifest import MAX_EXPORTS, load_manifest, validate
from plugin_format.semver import Version
from plugin_format.yaml_load import MAX_DEPTH
from registry_static.layout import check_name
from registry_static.lockfile import Lockfile
from registry_static.project import load_project

BASE = {"name": "greeter", "version": "0.1.0", "language": "c", "exports": [{"name": "greet"}]}
HEX = "ab" * 32


def _manifest(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def _lock(**entry: Any) -> bytes:
    doc = {"version": "1.0.0", "registry": "file:///r/", **dict.fromkeys(("wasm_sha256", "plugin_json_sha256"), HEX)}
    doc |= {"sig_sha256": HEX, "key_id": HEX, **entry}
    return json.dumps({"schema": "extism-platform/lock@1", "plugins": {"greeter": doc}}).encode()


# Each case: a value ending in "\n" in one place a name or version is checked. All were accepted before.
NEWLINE_CASES = {
    "plugin.yaml name": lambda tmp: validate(_manifest(name="foo\n")),
    "plugin.yaml version": lambda tmp: validate(_manifest(version="0.1.0\n")),
    "plugin.yaml export name": lambda tmp: validate(_manifest(exports=[{"name": "greet\n"}])),
    "plugin.yaml tag": lambda tmp: validate(_manifest(tags=["demo\n"])),
    "plugin.yaml host": lambda tmp: validate(_manifest(permissions={"hosts": ["api.example\n"]})),
    "plugin.yaml host function": lambda tmp: validate(_manifest(permissions={"host_functions": ["kv\n"]})),
    "plugin.yaml dependency": lambda tmp: validate(_manifest(dependencies={"units\n": "^1"})),
    "registry name": lambda tmp: check_name("foo\n"),
    "semver": lambda tmp: Version.parse("0.1.0\n"),
    "extism.lock hash": lambda tmp: Lockfile.from_bytes(_lock(wasm_sha256=HEX + "\n"), "extism.lock"),
    "extism.lock name": lambda tmp: Lockfile.from_bytes(_lock().replace(b'"greeter"', b'"greeter\\n"'), "extism.lock"),
    "extism.lock version": lambda tmp: Lockfile.from_bytes(_lock(version="1.0.0\n"), "extism.lock"),
    "init name": lambda tmp: init_project("foo\n", "c", tmp / "new"),
    "MCP tool name": lambda tmp: tool_name("greeter", "greet\n"),
}


@pytest.mark.parametrize("case", sorted(NEWLINE_CASES))
def test_attack_name_ending_in_a_newline(case: str, tmp_path: Path) -> None:
    with pytest.raises(ExtismPlatformError):
        NEWLINE_CASES[case](tmp_path)


def test_attack_granted_host_ending_in_a_newline() -> None:
    assert host_covers("api.example:443", "api.example:443")
    assert not host_covers("api.example:443\n", "api.example:443")  # `$` made it "api.example:443"


def _write(tmp_path: Path, text: str, name: str = "plugin.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _bomb(indent: str, levels: int = 9) -> str:
    """The classic: each level a list of 9 aliases to the level below (9**9 values from 468 bytes)."""
    lines = [f"{indent}a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"{indent}a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


BOMBS = {  # where a value of any shape is allowed, so nothing but the loader can stop it
    "plugin.yaml": (
        "name: greeter\nversion: 0.1.0\nlanguage: c\nexports: [{name: greet}]\n"
        "tests:\n  - export: greet\n    input:\n" + _bomb("      "),
        r"tests\[0\]\.input\.a\d \(line \d+\)",
    ),
    "extism.yaml": (
        "registries: {default: /nonexistent}\ngrants:\n  greeter:\n    config:\n" + _bomb("      "),
        r"grants\.greeter\.config\.a\d \(line \d+\)",
    ),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_attack_yaml_alias_bomb(tmp_path: Path, name: str) -> None:
    text, field = BOMBS[name]
    path = _write(tmp_path, text, name)
    start = time.monotonic()
    load = load_manifest if name == "plugin.yaml" else load_project
    with pytest.raises(ExtismPlatformError, match=rf"^{name}: {field}: more than 100,000 values .*alias"):
        load(path)
    if name == "extism.yaml":
        with pytest.raises(ExtismPlatformError, match="alias"):
            load_grants(path)
    assert time.monotonic() - start < 2


def test_attack_yaml_aliases_within_bounds_still_load(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: greeter\nversion: 0.1.0\nlanguage: c\nexports:\n"
        "  - {name: greet, input_schema: &s {type: object, properties: {name: {type: string}}}}\n"
        "  - {name: wave, input_schema: *s}\n",
    )
    m = load_manifest(path)
    assert m.exports[1].input_schema == m.exports[0].input_schema


def test_attack_yaml_self_referencing_alias(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: greeter\nversion: 0.1.0\nlanguage: c\nexports: &e [*e]\n")
    with pytest.raises(ManifestError, match=r"^plugin.yaml: exports \(line 4\): an alias to a node that contains it"):
        load_manifest(path)


@pytest.mark.parametrize("opening,closing", [("[", "]"), ("{k: ", "}")])
def test_attack_yaml_3000_deep_nesting(tmp_path: Path, opening: str, closing: str) -> None:
    deep = opening * 3000 + "x" + closing * 3000
    path = _write(tmp_path, "name: greeter\nversion: 0.1.0\nlanguage: c\nexports: [{name: greet}]\ntests: " + deep)
    with pytest.raises(
        ManifestError, match=rf"^plugin.yaml: tests.* \(line 5\): nested deeper than {MAX_DEPTH} levels"
    ):
        load_manifest(path)


def test_attack_oversized_plugin_yaml(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "name: greeter\nversion: 0.1.0\nlanguage: c\nexports: [{name: greet}]\n# " + "x" * 2_000_000
    )
    with pytest.raises(ManifestError, match=r"^plugin.yaml: 2,000,\d+ bytes; at most 1,048,576"):
        load_manifest(path)


def test_attack_100k_exports(tmp_path: Path) -> None:
    doc = _manifest(exports=[{"name": f"e{i}", "input_schema": {"type": "object"}} for i in range(100_000)])
    start = time.monotonic()
    with pytest.raises(ManifestError, match=rf"^plugin.yaml: exports: 100,000 exports; at most {MAX_EXPORTS}"):
        validate(doc)
    assert time.monotonic() - start < 1


def test_attack_validation_is_linear_in_exports() -> None:
    """The largest allowed list validates quickly (names.count() per export made it quadratic)."""
    doc = _manifest(exports=[{"name": f"e{i}", "input_schema": {"type": "object"}} for i in range(MAX_EXPORTS - 1)])
    doc["exports"].append({"name": "e7"})
    start = time.monotonic()
    with pytest.raises(ManifestError, match="duplicate export name"):
        validate(doc)
    assert time.monotonic() - start < 2
