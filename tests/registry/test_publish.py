"""Publishing real signed artifacts: what is accepted, what is refused, and the operations after it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hatch_extism.build import Artifacts
from plugin_format.errors import NotFoundError, PublishError, RegistryLayoutError
from registry_static.client import RegistryClient
from registry_static.index import IndexFile
from registry_static.layout import blob_path
from registry_static.repository import Repository
from registry_static.verify import verify_registry
from tests.conftest import run_cli

from .conftest import PUBLISHED, Authors, Reg


def cli(*args: str) -> tuple[int, str, str]:
    p = run_cli("-m", "registry_static.cli", *args, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_template_registry_verifies(registry_template: Reg) -> None:
    rep = verify_registry(registry_template.dir)
    assert rep.ok, rep.problems
    assert (rep.packages, rep.versions) == (4, len(PUBLISHED))


def test_index_file_records_everything_a_resolver_needs(reg: Reg) -> None:
    idx = reg.repo().index("@acme/weather")
    assert isinstance(idx, IndexFile)
    assert [v.version for v in idx.versions] == ["1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1"]
    v = idx.get("1.2.0")
    assert v and v.dependencies == {"@acme/units": "^0.3"} and v.permissions["hosts"] == ["api.weather.example"]
    assert v.exports[0]["name"] == "greet" and v.language == "c" and v.readme is not None
    assert v.key_id in idx.keys
    for ref in (v.wasm, v.plugin_json, v.sig, v.readme):
        assert (reg.dir / blob_path(ref.sha256)).stat().st_size == ref.size


def test_publish_via_cli_then_overwrite_is_refused(reg: Reg, built: dict[str, Artifacts]) -> None:
    art = built["@acme/weather@1.3.0"]
    rc, out, err = cli("publish", str(reg.dir), str(art.sig), "--keys", str(reg.keys), "--json")
    assert rc == 0, err
    assert json.loads(out)["published"][0]["version"] == "1.3.0"
    before = (reg.dir / "metadata" / "timestamp.json").read_bytes()
    rc, out, err = cli("publish", str(reg.dir), str(art.wasm), "--keys", str(reg.keys))
    assert rc == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "already published" in err and "bump `version`" in err
    assert (reg.dir / "metadata" / "timestamp.json").read_bytes() == before


def test_unsigned_artifact_is_refused(reg: Reg, built: dict[str, Artifacts]) -> None:
    with pytest.raises(PublishError, match="unsigned"):
        reg.repo().publish([built["unsigned"].wasm])


def test_artifact_signed_by_a_key_not_allowed_in_the_scope_is_refused(reg: Reg, built: dict[str, Artifacts]) -> None:
    with pytest.raises(PublishError, match=r"no valid signature by the given key.*Authors allowed in @acme"):
        reg.repo().publish([built["mallory"].wasm])


def test_bob_cannot_publish_into_acme_but_can_into_beta(reg: Reg, authors: Authors, tmp_path: Path) -> None:
    from .conftest import build_plugin

    with pytest.raises(PublishError, match="Authors allowed in @acme"):
        reg.repo().publish([build_plugin(tmp_path, "@acme/bobs", "1.0.0", authors.bob).wasm])
    reg.repo().publish([build_plugin(tmp_path, "@beta/other", "1.0.0", authors.bob).wasm])


def test_tampered_artifact_is_refused_at_publish(reg: Reg, built: dict[str, Artifacts], tmp_path: Path) -> None:
    art = built["@acme/weather@1.3.0"]
    for f in (art.wasm, art.plugin_json, art.sig):
        shutil.copy(f, tmp_path / f.name)
    wasm = tmp_path / art.wasm.name
    wasm.write_bytes(wasm.read_bytes() + b"\0")
    with pytest.raises(PublishError, match=r"\.wasm: sha256 does not match the signed statement"):
        reg.repo().publish([wasm])


def test_unknown_scope_and_batch_all_or_nothing(
    reg: Reg, authors: Authors, built: dict[str, Artifacts], tmp_path: Path
) -> None:
    from .conftest import build_plugin

    nowhere = build_plugin(tmp_path, "@nowhere/x", "1.0.0", authors.alice)
    ts = (reg.dir / "metadata" / "timestamp.json").read_bytes()
    with pytest.raises(Exception, match=r"@nowhere is not a scope.*keys add-scope"):
        reg.repo().publish([built["@acme/weather@1.3.0"].wasm, nowhere.wasm])
    assert (reg.dir / "metadata" / "timestamp.json").read_bytes() == ts
    assert reg.repo().index("@acme/weather").get("1.3.0") is None


def test_yank_unyank_deprecate(reg: Reg, tmp_path: Path) -> None:
    rc, _, err = cli("yank", str(reg.dir), "@acme/weather", "1.2.0", "--keys", str(reg.keys))
    assert rc == 0, err
    client = RegistryClient(str(reg.dir), tmp_path / "c1")
    assert client.resolve("@acme/weather", "^1").version == "1.1.0"
    assert client.fetch("@acme/weather", "1.2.0").version == "1.2.0"  # lockfiles keep working
    with pytest.raises(NotFoundError, match=r"matching but yanked: 1\.2\.0"):
        client.resolve("@acme/weather", "1.2.0")
    rc, _, err = cli("deprecate", str(reg.dir), "@acme/weather", "<1.2", "-m", "use 1.2", "--keys", str(reg.keys))
    assert rc == 0, err
    rc, _, err = cli("unyank", str(reg.dir), "@acme/weather", "1.2.0", "--keys", str(reg.keys))
    assert rc == 0, err
    client = RegistryClient(str(reg.dir), tmp_path / "c2")
    infos = {i.version: i for i in client.versions("@acme/weather")}
    assert infos["1.0.0"].deprecated == "use 1.2" and infos["1.2.0"].deprecated is None
    assert client.resolve("@acme/weather", "^1").version == "1.2.0"
    rc, _, err = cli("yank", str(reg.dir), "@acme/nothing", "1.0.0", "--keys", str(reg.keys))
    assert rc == 1 and "no such plugin" in err


def test_remove_author_stops_new_publishes_but_old_versions_still_verify(
    reg: Reg, built: dict[str, Artifacts], authors: Authors, tmp_path: Path
) -> None:
    from plugin_format import signing

    kid = signing.key_id(signing.load_public_key(authors.pub("alice")))
    rc, _, err = cli("keys", "remove-author", str(reg.dir), "@acme", kid[:12], "--keys", str(reg.keys))
    assert rc == 0, err
    with pytest.raises(PublishError, match="has no author keys yet.*keys add-author .* @acme AUTHOR.pem.pub"):
        reg.repo().publish([built["@acme/weather@1.3.0"].wasm])
    assert RegistryClient(str(reg.dir), tmp_path / "c").fetch("@acme/weather", "1.2.0").manifest["version"] == "1.2.0"


def test_refresh_and_rotation_keep_clients_working(reg: Reg, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    RegistryClient(str(reg.dir), cache).fetch("greeter", "0.1.0")  # the client now trusts root v1
    rc, out, err = cli("refresh", str(reg.dir), "--keys", str(reg.keys), "--json")
    assert rc == 0 and "timestamp" in json.loads(out)["resigned"], err
    for role in ("timestamp", "snapshot", "targets", "@acme", "root"):
        rc, _, err = cli("keys", "rotate", str(reg.dir), role, "--keys", str(reg.keys))
        assert rc == 0, err
    assert (reg.dir / "metadata" / "5.root.json").is_file()
    client = RegistryClient(str(reg.dir), cache)
    assert client.fetch("@acme/weather", "1.2.0").version == "1.2.0"
    assert verify_registry(reg.dir).ok
    rc, out, _ = cli("keys", "list", str(reg.dir), "--keys", str(reg.keys), "--json")
    assert json.loads(out)["roles"]["root"]["version"] == 5


def test_init_refuses_a_non_empty_dir_and_keys_inside_it(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    rc, _, err = cli("init", str(tmp_path / "full"))
    assert rc == 1 and "not empty" in err
    with pytest.raises(RegistryLayoutError, match="outside the served registry"):
        Repository.init(tmp_path / "r", tmp_path / "r" / "keys")


def test_missing_key_is_named(reg: Reg) -> None:
    (reg.keys / "targets.pem").unlink()
    rc, _, err = cli("keys", "add-scope", str(reg.dir), "@new", "--keys", str(reg.keys))
    assert rc == 1 and "targets.pem" in err and "offline" in err


def test_a_failed_rotation_leaves_keys_and_metadata_as_they_were(reg: Reg, tmp_path: Path) -> None:
    (reg.keys / "snapshot.pem").unlink()
    before = {p.name: p.read_bytes() for p in reg.keys.iterdir()}
    meta = sorted(p.name for p in (reg.dir / "metadata").iterdir())
    rc, _, err = cli("keys", "rotate", str(reg.dir), "timestamp", "--keys", str(reg.keys))
    assert rc == 1 and "snapshot.pem" in err
    assert {p.name: p.read_bytes() for p in reg.keys.iterdir()} == before
    assert sorted(p.name for p in (reg.dir / "metadata").iterdir()) == meta
