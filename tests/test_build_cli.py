"""`extism-plugin` build / verify / inspect / test / keygen / call, from the outside."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "c-plugin"
STEM = "fixture-shout-1.0.0"


def plugin_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    return run_cli("-m", "extism_platform.cli.plugin", *args, **({"cwd": cwd} if cwd else {}), env=env)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for who in ("author", "stranger"):
        proc = plugin_cli("keygen", "--out", str(d / f"{who}.key"), "--json")
        assert proc.returncode == 0, proc.stderr
        out[who] = d / f"{who}.key"
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Path]) -> Path:
    project = tmp_path_factory.mktemp("proj") / "shout"
    shutil.copytree(FIXTURE, project)
    proc = plugin_cli("build", str(project), "--key", str(keys["author"]), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["signed"] and Path(doc["wasm"]).name == f"{STEM}.wasm"
    return project / "dist"


def fresh_copy(dist: Path, tmp_path: Path) -> Path:
    out = tmp_path / "dist"
    shutil.copytree(dist, out)
    return out


def test_keygen_private_key_is_0600(keys: dict[str, Path]) -> None:
    assert keys["author"].stat().st_mode & 0o777 == 0o600
    assert keys["author"].with_name("author.key.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_keygen_refuses_to_overwrite(keys: dict[str, Path]) -> None:
    proc = plugin_cli("keygen", "--out", str(keys["author"]))
    assert proc.returncode == 1 and "already exists" in proc.stderr


def test_encrypted_key_needs_passphrase(tmp_path: Path) -> None:
    env = {"PP": "correct horse"}
    assert plugin_cli("keygen", "--out", str(tmp_path / "enc.key"), "--passphrase-env", "PP", env=env).returncode == 0
    shutil.copytree(FIXTURE, tmp_path / "p")
    proc = plugin_cli(
        "build", str(tmp_path / "p"), "--key", str(tmp_path / "enc.key"), env={"EXTISM_SIGNING_KEY_PASSPHRASE": ""}
    )
    assert proc.returncode == 1 and "encrypted" in proc.stderr
    proc = plugin_cli(
        "build",
        str(tmp_path / "p"),
        "--key",
        str(tmp_path / "enc.key"),
        env={"EXTISM_SIGNING_KEY_PASSPHRASE": "correct horse"},
    )
    assert proc.returncode == 0, proc.stderr


def test_verify_with_the_right_key(built: Path, keys: dict[str, Path]) -> None:
    proc = plugin_cli("verify", str(built / f"{STEM}.wasm"), "--key", f"{keys['author']}.pub", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["trusted"] is True


def test_verify_with_the_wrong_key_fails(built: Path, keys: dict[str, Path]) -> None:
    proc = plugin_cli("verify", str(built / f"{STEM}.sig"), "--key", f"{keys['stranger']}.pub")
    assert proc.returncode == 1
    assert "no valid signature by the given key" in proc.stderr


@pytest.mark.parametrize(("suffix", "named"), [(".wasm", ".wasm"), (".plugin.json", ".plugin.json"), (".sig", ".sig")])
def test_a_flipped_byte_is_caught_and_named(
    built: Path, keys: dict[str, Path], tmp_path: Path, suffix: str, named: str
) -> None:
    dist = fresh_copy(built, tmp_path)
    target = dist / f"{STEM}{suffix}"
    data = bytearray(target.read_bytes())
    # In the .sig flip a byte of the base64 signature; elsewhere the middle of the file.
    pos = data.rfind(b'"sig": "') + 20 if suffix == ".sig" else len(data) // 2
    data[pos] = data[pos] ^ 0x01 if suffix != ".sig" else (ord("A") if data[pos] != ord("A") else ord("B"))
    target.write_bytes(bytes(data))
    proc = plugin_cli("verify", str(dist / f"{STEM}.wasm"), "--key", f"{keys['author']}.pub")
    assert proc.returncode == 1, proc.stdout
    assert named in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_rebuild_is_reproducible(built: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    project = tmp_path / "again"
    shutil.copytree(FIXTURE, project)
    proc = plugin_cli("build", str(project), "--unsigned", "--json")
    assert proc.returncode == 0, proc.stderr
    assert (project / "dist" / f"{STEM}.wasm").read_bytes() == (built / f"{STEM}.wasm").read_bytes()
    # Unsigned is explicit: verify refuses it and inspect says so.
    proc = plugin_cli("verify", str(project / "dist" / f"{STEM}.wasm"))
    assert proc.returncode == 1 and "unsigned" in proc.stderr
    proc = plugin_cli("inspect", str(project / "dist" / f"{STEM}.wasm"), "--json")
    assert json.loads(proc.stdout)["signature"]["status"] == "unsigned"


def test_build_without_a_key_says_what_to_do(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "p")
    proc = plugin_cli("build", str(tmp_path / "p"), env={"EXTISM_SIGNING_KEY": "", "HOME": str(tmp_path)})
    assert proc.returncode == 1
    assert "no signing key" in proc.stderr and "keygen" in proc.stderr


def test_inspect_reports_exports_and_signature(built: Path, keys: dict[str, Path]) -> None:
    proc = plugin_cli("inspect", str(built / f"{STEM}.wasm"), "--key", f"{keys['author']}.pub", "--json")
    doc = json.loads(proc.stdout)
    assert set(doc["exports"]) == {"shout", "fetch"}
    assert doc["signature"]["status"] == "verified" and doc["plugin"]["name"] == "@fixture/shout"


def test_call_runs_the_export(built: Path) -> None:
    proc = plugin_cli("call", str(built / f"{STEM}.wasm"), "shout", "--input", "quiet")
    assert proc.returncode == 0 and proc.stdout == "QUIET"
    proc = plugin_cli("call", str(built / f"{STEM}.wasm"), "whisper")
    assert proc.returncode == 1 and "no export 'whisper' (exports: fetch, shout)" in proc.stderr


def test_declared_tests_run_with_http_mocks(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "p")
    proc = plugin_cli("test", str(tmp_path / "p"), "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0, doc
    assert doc["passed"] == 3 and doc["failed"] == 0


def test_a_mock_for_an_undeclared_host_fails_the_test(tmp_path: Path) -> None:
    """The real call would be refused, so the simulator refuses it too (the host's HTTP check
    runs before any mock)."""
    shutil.copytree(FIXTURE, tmp_path / "p")
    manifest = tmp_path / "p" / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("hosts: [api.example, other.example]", "hosts: [other.example]"))
    proc = plugin_cli("test", str(tmp_path / "p"))
    assert proc.returncode == 1
    assert "http_mock 'https://api.example/*': plugin.yaml does not declare api.example in permissions.hosts" in (
        proc.stdout
    )


def test_call_of_a_denied_host_names_the_fix(built: Path, tmp_path: Path) -> None:
    wasm = str(built / f"{STEM}.wasm")
    proc = plugin_cli("call", wasm, "fetch", "--input", "https://api.example/x")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "backtrace" not in proc.stderr
    assert "not allowed HTTP access to api.example: pass --allow-host api.example" in proc.stderr
    shutil.copytree(FIXTURE, tmp_path / "p")
    proc = plugin_cli("call", str(tmp_path / "p"), "fetch", "--input", "https://evil.example/")
    assert proc.returncode == 1
    assert "not allowed HTTP access to evil.example: add evil.example to permissions.hosts in plugin.yaml" in (
        proc.stderr
    )


def test_a_failing_declared_test_fails(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "p")
    manifest = tmp_path / "p" / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace('expect_output: "HELLO"', 'expect_output: "hello"'))
    proc = plugin_cli("test", str(tmp_path / "p"))
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines()[-1] == "2 passed, 1 failed"


def test_invalid_plugin_yaml_names_file_and_field(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "p")
    manifest = tmp_path / "p" / "plugin.yaml"
    manifest.write_text(
        manifest.read_text()
        .replace("version: 1.0.0", "version: one")
        .replace("input_schema: {type: object", "input_schema: {type: 7")
    )
    proc = plugin_cli("build", str(tmp_path / "p"), "--unsigned")
    assert proc.returncode == 1
    assert "plugin.yaml: version: 'one' is not allowed" in proc.stderr
    assert "plugin.yaml: exports[0].input_schema: not a JSON Schema object" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_undeclared_host_function_import_fails_the_build(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "p")
    src = tmp_path / "p" / "src" / "shout.c"
    src.write_text(
        src.read_text() + '\nEXTISM_IMPORT_USER("kv_get") ExtismHandle kv_get(ExtismHandle);\n'
        'EXTISM_EXPORT("peek") int32_t peek(void) { extism_output_handle(kv_get(0)); return 0; }\n'
    )
    proc = plugin_cli("build", str(tmp_path / "p"), "--unsigned")
    assert proc.returncode == 1
    assert "import extism:host/user::kv_get is not declared" in proc.stderr
    manifest = tmp_path / "p" / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("permissions:\n", "permissions:\n  host_functions: [kv]\n"))
    assert plugin_cli("build", str(tmp_path / "p"), "--unsigned").returncode == 0


def test_help_everywhere_has_an_example() -> None:
    for cmd in ("init", "build", "package", "test", "call", "inspect", "verify", "keygen", "toolchains"):
        proc = plugin_cli(cmd, "--help")
        assert proc.returncode == 0 and "examples:" in proc.stdout, cmd
