"""Signed advisories (issue 11, item 2) and `extism-plugin audit`: published with `extism-registry advisory`,
verified by the client like the index files, warned about by `install`, failing `audit` until the project
moves to the fixed version. Each attack on the advisories file is its own test."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, TargetFile

from hatch_extism.build import Artifacts
from plugin_format.artifact import sha256_hex
from plugin_format.errors import RegistryError, TrustError
from registry_static.advisories import AdvisoryFile
from registry_static.cli import main as registry_main
from registry_static.client import RegistryClient
from registry_static.keys import KeyStore
from registry_static.layout import advisories_path, blob_path, consistent_path
from registry_static.repository import SERIALIZER
from registry_static.server import BackgroundServer

from .conftest import Reg
from .test_attacks import _role_file
from .test_install import cli, installed, write_project

SUMMARY = "leaks the api_key config value in error messages"


def registry(*args: str) -> int:
    return registry_main(list(args))


def advise(reg: Reg, *extra: str) -> None:
    rc = registry(
        "advisory", "add", str(reg.dir), "@acme/weather", "--keys", str(reg.keys),
        "--affected", "<1.3.0", "--severity", "high", "--summary", SUMMARY, "--fixed", "1.3.0",
        "--id", "ACME-2026-0001", *extra,
    )  # fmt: skip
    assert rc == 0


def advisories_file(reg: Reg) -> Path:
    tf = reg.repo().role("scope-acme").signed.targets[advisories_path("acme")]
    return reg.dir / consistent_path(advisories_path("acme"), tf.hashes["sha256"])


@pytest.fixture
def locked_app(reg: Reg, tmp_path: Path) -> tuple[Path, Path]:
    """A project that locked @acme/weather 1.2.0 (the newest then), then the fix 1.3.0 got published."""
    proj = write_project(tmp_path / "app", reg.dir.as_uri(), {"@acme/weather": "^1"})
    cache = tmp_path / "cache"
    assert installed(cli(cache, "install", "--project", str(proj), "--json"))["@acme/weather"] == "1.2.0"
    return proj, cache


def publish_fix(reg: Reg, built: dict[str, Artifacts]) -> None:
    reg.repo().publish([built["@acme/weather@1.3.0"].wasm])


def audit(cache: Path, proj: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli(cache, "audit", "--project", str(proj), *extra)


def test_advisory_published_then_audit_fails_naming_the_fix_and_update_clears_it(
    reg: Reg, built: dict[str, Artifacts], locked_app: tuple[Path, Path]
) -> None:
    proj, cache = locked_app
    assert audit(cache, proj).returncode == 0  # nothing known yet
    publish_fix(reg, built)
    advise(reg, "--url", "https://acme.example/sec/1")

    p = audit(cache, proj)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "@acme/weather 1.2.0  AFFECTED" in p.stdout
    assert f"advisory ACME-2026-0001 (high): {SUMMARY}" in p.stdout
    assert "fixed in 1.3.0: extism-plugin update @acme/weather" in p.stdout
    assert "signature: verified" in p.stdout and "1 of 2 locked plugin(s) affected" in p.stdout

    # install keeps the locked version (no surprise upgrade) and warns, naming the fix
    p = cli(cache, "install", "--project", str(proj))
    assert p.returncode == 0, p.stderr
    assert "warning: @acme/weather 1.2.0 is affected by advisory ACME-2026-0001 (high)" in p.stderr
    assert "fixed in 1.3.0: extism-plugin update @acme/weather" in p.stderr

    # moving to the fixed version clears it
    p = cli(cache, "install", "--project", str(proj), "--upgrade", "@acme/weather", "--json")
    assert installed(p)["@acme/weather"] == "1.3.0" and "advisory" not in p.stderr
    p = audit(cache, proj)
    assert p.returncode == 0 and "none affected" in p.stdout, p.stdout


def test_audit_json_shape(reg: Reg, built: dict[str, Artifacts], locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    publish_fix(reg, built)
    advise(reg)
    p = audit(cache, proj, "--json")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert set(doc) == {"project", "lock", "ok", "affected", "plugins"}
    assert doc["ok"] is False and doc["affected"] == 1 and doc["lock"].endswith("extism.lock")
    by_name = {e["name"]: e for e in doc["plugins"]}
    assert sorted(by_name) == ["@acme/units", "@acme/weather"]
    weather = by_name["@acme/weather"]
    assert set(weather) == {
        "name", "version", "registry", "direct", "status", "advisories", "yanked", "deprecated",
        "signature", "permissions", "problems",
    }  # fmt: skip
    assert weather["status"] == "affected" and weather["direct"] is True and weather["problems"] == []
    assert weather["signature"]["status"] == "verified" and len(weather["signature"]["key_id"]) == 64
    lock = json.loads(proj.with_name("extism.lock").read_text())
    assert weather["permissions"]["digest"] == lock["plugins"]["@acme/weather"]["permissions"]["digest"]
    (adv,) = weather["advisories"]
    assert adv["id"] == "ACME-2026-0001" and adv["severity"] == "high" and adv["fixed"] == "1.3.0"
    assert adv["affected"] == "<1.3.0" and adv["fix_command"] == "extism-plugin update @acme/weather"
    units = by_name["@acme/units"]
    assert units["status"] == "ok" and units["direct"] is False and units["advisories"] == []


def test_audit_names_add_when_the_fix_is_outside_the_wanted_range(
    reg: Reg, built: dict[str, Artifacts], tmp_path: Path
) -> None:
    proj = write_project(tmp_path / "app", reg.dir.as_uri(), {"@acme/weather": "~1.2"})
    cache = tmp_path / "cache"
    installed(cli(cache, "install", "--project", str(proj), "--json"))
    publish_fix(reg, built)
    advise(reg)
    p = audit(cache, proj)
    assert p.returncode == 1 and "fixed in 1.3.0: extism-plugin add @acme/weather@^1.3.0" in p.stdout, p.stdout


def test_advisory_list_and_withdraw_clear_audit(
    reg: Reg, built: dict[str, Artifacts], locked_app: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    proj, cache = locked_app
    advise(reg)
    capsys.readouterr()
    assert registry("advisory", "list", str(reg.dir), "@acme/weather", "--json") == 0
    (listed,) = json.loads(capsys.readouterr().out)["advisories"]
    assert listed["id"] == "ACME-2026-0001" and listed["withdrawn"] is None
    assert audit(cache, proj).returncode == 1
    assert registry("advisory", "withdraw", str(reg.dir), "ACME-2026-0001", "--keys", str(reg.keys)) == 0
    assert registry("advisory", "list", str(reg.dir)) == 0
    assert "no advisories" in capsys.readouterr().out
    assert registry("advisory", "list", str(reg.dir), "--all") == 0
    assert "withdrawn" in capsys.readouterr().out
    assert audit(cache, proj).returncode == 0


def test_advisory_default_id_and_refusals(reg: Reg) -> None:
    repo = reg.repo()
    adv = repo.add_advisory("@acme/weather", affected="<1.2.0", severity="low", summary="x", fixed="1.2.0")
    assert adv.id.startswith("ACME-") and adv.id.endswith("-0001")
    with pytest.raises(RegistryError, match="is itself in --affected"):
        repo.add_advisory("@acme/weather", affected="<2", severity="low", summary="x", fixed="1.2.0")
    with pytest.raises(RegistryError, match="no such plugin"):
        repo.add_advisory("@acme/nope", affected="*", severity="low", summary="x")
    with pytest.raises(RegistryError, match="already exists"):
        repo.add_advisory("@acme/weather", affected="<1", severity="low", summary="x", advisory_id=adv.id)


def test_advisory_add_usage_error_is_one_line(reg: Reg, capsys: pytest.CaptureFixture[str]) -> None:
    rc = registry(
        "advisory", "add", str(reg.dir), "@acme/weather", "--keys", str(reg.keys),
        "--affected", "<2", "--severity", "high", "--summary", "x", "--fixed", "1.5.0",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "1.5.0: that version is itself in --affected" in err


def test_install_over_http_warns_about_an_affected_dependency(
    reg: Reg, built: dict[str, Artifacts], tmp_path: Path
) -> None:
    reg.repo().add_advisory("@acme/units", affected="0.3.1", severity="critical", summary="bad units")
    with BackgroundServer(reg.dir) as url:
        proj = write_project(tmp_path / "app", url, {"@acme/weather": "^1"})
        p = cli(tmp_path / "cache", "install", "--project", str(proj), "--json")
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        units = next(e for e in doc["plugins"] if e["name"] == "@acme/units")
        assert [a["id"] for a in units["advisories"]] == [units["advisories"][0]["id"]]
        assert "@acme/units 0.3.1 is affected by advisory" in p.stderr and "(critical): bad units" in p.stderr
        assert "no fixed version yet" in p.stderr


# ---- audit: yanked versions and signature status --------------------------------------------------


def test_audit_fails_on_a_yanked_locked_version(reg: Reg, locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    reg.repo().yank("@acme/weather", "1.2.0")
    p = audit(cache, proj, "--json")
    weather = next(e for e in json.loads(p.stdout)["plugins"] if e["name"] == "@acme/weather")
    assert p.returncode == 1 and weather["yanked"] is True and weather["status"] == "affected"


def test_audit_reports_a_deprecated_version_without_failing(reg: Reg, locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    reg.repo().deprecate("@acme/weather", "1.2.0", "use 2.x")
    p = audit(cache, proj)
    assert p.returncode == 0 and "deprecated: use 2.x" in p.stdout


def test_attack_modified_cached_wasm_is_reported_invalid(reg: Reg, locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    lock = json.loads(proj.with_name("extism.lock").read_text())
    wasm = cache / blob_path(lock["plugins"]["@acme/weather"]["wasm_sha256"])
    wasm.chmod(0o644)
    wasm.write_bytes(wasm.read_bytes() + b"\0")
    p = audit(cache, proj, "--json")
    weather = next(e for e in json.loads(p.stdout)["plugins"] if e["name"] == "@acme/weather")
    assert p.returncode == 1 and weather["signature"]["status"] == "invalid"
    assert "modified on disk" in weather["signature"]["detail"]


def test_attack_lock_and_cache_pointing_at_another_signature_are_reported(
    reg: Reg, built: dict[str, Artifacts], locked_app: tuple[Path, Path]
) -> None:
    proj, cache = locked_app
    lock_path = proj.with_name("extism.lock")
    doc = json.loads(lock_path.read_text())
    # mallory's validly signed envelope, stored in the cache under its own sha256, and the lock edited to match
    evil = built["mallory"].sig.read_bytes()
    (cache / blob_path(sha256_hex(evil))).write_bytes(evil)
    doc["plugins"]["@acme/weather"]["sig_sha256"] = sha256_hex(evil)
    lock_path.write_text(json.dumps(doc))
    p = audit(cache, proj, "--json")
    weather = next(e for e in json.loads(p.stdout)["plugins"] if e["name"] == "@acme/weather")
    assert p.returncode == 1 and weather["signature"]["status"] == "invalid", weather
    assert any("signed index gives sig_sha256" in problem for problem in weather["problems"])


def test_audit_without_a_lock_is_one_line(tmp_path: Path, reg: Reg) -> None:
    proj = write_project(tmp_path / "app", reg.dir.as_uri(), {"@acme/weather": "^1"})
    p = audit(tmp_path / "cache", proj)
    assert p.returncode == 1 and p.stderr.startswith("extism-plugin: error: ") and "run install first" in p.stderr


# ---- attacks on the advisories file ----------------------------------------------------------------


def test_attack_tampered_advisory_file_is_refused(reg: Reg, locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    advise(reg)
    path = advisories_file(reg)
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"severity":"high"', b'"severity":"lowx"'))  # same length, other bytes
    with pytest.raises(TrustError, match="differs from what the signed metadata pins"):
        RegistryClient(str(reg.dir), proj.parent / "fresh-cache").advisories("@acme/weather")
    p = cli(cache, "install", "--project", str(proj))
    assert p.returncode == 1 and "_advisories.json" in p.stderr and "Traceback" not in p.stderr, p.stderr
    p = audit(cache, proj)
    assert p.returncode == 1 and "differs from what the signed metadata pins" in p.stdout


def test_attack_deleted_advisory_file_is_not_silently_hidden(reg: Reg, locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    advise(reg)
    advisories_file(reg).unlink()  # a mirror that drops the file its signed role lists
    p = cli(cache, "install", "--project", str(proj))
    assert p.returncode == 1 and "_advisories.json" in p.stderr, p.stderr
    assert audit(cache, proj).returncode == 1


def test_attack_rolled_back_scope_role_hiding_an_advisory_is_refused(reg: Reg, tmp_path: Path) -> None:
    before = _role_file(reg, "scope-acme").read_bytes()  # the role without any advisory
    advise(reg)
    _role_file(reg, "scope-acme").write_bytes(before)  # served under the new version's name
    with pytest.raises(TrustError, match="older than what was already trusted|version"):
        RegistryClient(str(reg.dir), tmp_path / "cache").advisories("@acme/weather")


def test_attack_whole_registry_rolled_back_to_before_the_advisory(reg: Reg, locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    backup = proj.parent / "before"
    shutil.copytree(reg.dir, backup, symlinks=True)
    advise(reg)
    p = cli(cache, "install", "--project", str(proj))
    assert p.returncode == 0 and "ACME-2026-0001" in p.stderr  # this client has now seen the advisory
    shutil.rmtree(reg.dir)
    shutil.copytree(backup, reg.dir, symlinks=True)  # a mirror serving the state before it, validly signed then
    p = cli(cache, "install", "--project", str(proj))
    assert p.returncode == 1 and "older than what was already trusted" in p.stderr, p.stderr
    p = audit(cache, proj)
    assert p.returncode == 1 and "older than what was already trusted" in p.stdout


def test_attack_advisory_forged_with_another_scopes_key_is_refused(reg: Reg, tmp_path: Path) -> None:
    advise(reg)
    path = _role_file(reg, "scope-acme")
    md = Metadata.from_bytes(path.read_bytes())
    forged = AdvisoryFile.from_bytes(advisories_file(reg).read_bytes(), "x")
    forged.advisories.clear()  # hide it, or rewrite it: the holder of @beta's key tries
    data = forged.to_bytes()
    tf = TargetFile.from_data(advisories_path("acme"), data)
    (reg.dir / consistent_path(advisories_path("acme"), tf.hashes["sha256"])).write_bytes(data)
    md.signed.targets[advisories_path("acme")] = tf
    md.signatures.clear()
    md.sign(KeyStore(reg.keys).signer("scope-beta"))
    path.write_bytes(md.to_bytes(SERIALIZER))
    with pytest.raises(TrustError, match=r"scope-acme.*not signed by the keys its delegator names"):
        RegistryClient(str(reg.dir), tmp_path / "cache").advisories("@acme/weather")


def test_scope_without_advisories_costs_no_request(reg: Reg, tmp_path: Path) -> None:
    client = RegistryClient(str(reg.dir), tmp_path / "cache")
    client.index("@acme/weather")
    before = list(client.stats.urls)
    assert client.advisories("@acme/weather") == []
    assert client.stats.urls == before


def test_registry_verify_checks_the_advisories_file(reg: Reg) -> None:
    from registry_static.verify import verify_registry

    advise(reg)
    assert verify_registry(reg.dir).ok
    path = advisories_file(reg)
    path.write_bytes(path.read_bytes().replace(b"api_key", b"api_kez"))
    report = verify_registry(reg.dir)
    assert not report.ok and any("_advisories.json" in p for p in report.problems), report.problems


def test_fix_command_per_constraint() -> None:
    from registry_static.advisories import Advisory, fix_command

    adv = Advisory("A-1", "@acme/units", "<0.4.0", "high", "s", "2026-12-02T00:00:00Z", fixed="0.4.0")
    assert fix_command("@acme/units", adv, [("@acme/weather", ">=0.3")]) == "extism-plugin update @acme/units"
    assert fix_command("@acme/units", adv, [("extism.yaml", "~0.3")]) == "extism-plugin add @acme/units@^0.4.0"
    assert fix_command("@acme/units", adv, [("@acme/weather", "^0.3")]) == (
        "extism-plugin update @acme/weather (they require @acme/units ^0.3)"
    )
    unfixed = Advisory("A-2", "@acme/units", "*", "low", "s", "2026-12-02T00:00:00Z")
    assert fix_command("@acme/units", unfixed, []).startswith("no fixed version yet")


def test_advisory_range_includes_pre_releases() -> None:
    from registry_static.advisories import Advisory

    adv = Advisory("A-1", "@acme/weather", "<2.0.0", "high", "s", "2026-12-02T00:00:00Z", fixed="2.0.0")
    assert adv.affects("2.0.0-rc.1") and adv.affects("1.2.0") and not adv.affects("2.0.0")
    assert not Advisory("A-2", "@acme/weather", "<2", "low", "s", "t", withdrawn="t").affects("1.0.0")
