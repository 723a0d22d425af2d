"""kill -9 at every write point of `publish` (registry files and site), `install` (cache) and lock writing.

A forked child runs the real CLI with `EXTISM_PLATFORM_CRASH_AT=N` (plugin_format.faults): it SIGKILLs
itself at its N-th atomic write, with the new file complete but not yet renamed. N walks 1, 2, … until
the command finishes (bounded). After each kill: a fresh TUF client sees the old or the new state,
`verify` names whatever the crash left, and the next command repairs it and works.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from hatch_extism.build import Artifacts
from plugin_format.errors import PublishError
from plugin_format.faults import CRASH_ENV
from registry_static import cli as registry_cli
from registry_static.client import RegistryClient
from registry_static.install import install
from registry_static.lockfile import read_lock
from registry_static.project import load_project
from registry_static.repository import Repository
from registry_static.verify import verify_registry

from .conftest import Reg

MAX_POINTS = 60  # bound of every loop: far more writes than any of these commands makes
OLD = {"1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1"}


def killed_at(n: int, command: Callable[[], int], env: dict[str, str] | None = None) -> bool:
    """Run `command` in a forked child that SIGKILLs itself at its n-th write; True if it died there,
    False if it finished (fewer than n writes) with exit code 0."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 3
        try:
            os.environ.update({**(env or {}), CRASH_ENV: str(n)})
            code = command()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, f"the command failed without a crash at write {n}"
    return False


def leftovers(directory: Path) -> set[str]:
    """What an interrupted publish can leave (the test's own oracle): temp files anywhere, and metadata
    files newer than what timestamp → snapshot name."""
    repo = Repository(directory, keys_dir=Path("/nonexistent"))
    snap = repo.snapshot().signed
    current = {f"{snap.version}.snapshot.json"} | {f"{m.version}.{r}" for r, m in snap.meta.items()}
    out = {str(p.relative_to(directory)) for p in directory.rglob(".*.tmp")}
    for p in (directory / "metadata").iterdir():
        name = p.name
        versioned = name.split(".", 1)[0].isdigit() and not name.endswith(".root.json")
        if versioned and name not in current and int(name.split(".", 1)[0]) > _referenced(snap, name):
            out.add(f"metadata/{name}")
    return out


def _referenced(snap: object, name: str) -> int:
    version, role = name.split(".", 1)
    if role == "snapshot.json":
        return snap.version  # type: ignore[attr-defined]
    meta = snap.meta.get(role)  # type: ignore[attr-defined]
    return meta.version if meta else 0


def _copy(template: Reg, where: Path) -> Reg:
    reg = Reg(where / "registry", where / "keys")
    shutil.copytree(template.dir, reg.dir, symlinks=True)
    shutil.copytree(template.keys, reg.keys)
    return reg


def _versions(reg: Reg, cache: str) -> set[str]:
    return {i.version for i in RegistryClient(str(reg.dir), reg.dir.parent / cache).versions("@acme/weather")}


def _verify_names_leftovers(reg: Reg, n: int) -> None:
    left = leftovers(reg.dir)
    report = verify_registry(reg.dir)
    assert report.ok == (not left), f"write {n}: leftovers {sorted(left)}, verify said {report.problems}"
    for item in left:
        assert any(item in p for p in report.problems), f"write {n}: verify does not name {item}"
    if left and n == 1:  # once: the command itself fails too
        assert registry_cli.main(["verify", str(reg.dir)]) == 1


def test_attack_kill_9_at_every_write_of_publish(
    registry_template: Reg, built: dict[str, Artifacts], tmp_path: Path
) -> None:
    art, later = built["@acme/weather@1.3.0"].wasm, built["@acme/weather@1.4.0"].wasm
    points = 0
    for n in range(1, MAX_POINTS + 1):
        reg = _copy(registry_template, tmp_path / f"r{n}")
        argv = ["publish", str(reg.dir), str(art), "--keys", str(reg.keys)]
        crashed = killed_at(n, lambda argv=argv: registry_cli.main(argv))
        # Readers never see a half-published registry: the old state or the new one.
        seen = _versions(reg, "c1")
        assert seen in (OLD, OLD | {"1.3.0"}), f"write {n}: a client sees {sorted(seen)}"
        if not crashed:
            break
        points += 1
        _verify_names_leftovers(reg, n)
        # The next publish (another version) works and repairs; retrying the crashed one works too
        # (or says the version is already there, when the crash came after timestamp.json).
        reg.repo().publish([later])
        try:
            reg.repo().publish([art])
        except PublishError as exc:
            assert "1.3.0" in seen and "already published" in str(exc), f"write {n}: {exc}"
        after = verify_registry(reg.dir)
        assert after.ok and not leftovers(reg.dir), f"write {n}: after the next publish: {after.problems}"
        assert _versions(reg, "c2") == OLD | {"1.3.0", "1.4.0"}
        assert RegistryClient(str(reg.dir), reg.dir.parent / "c3").fetch("@acme/weather", "1.3.0").version == "1.3.0"
    else:
        pytest.fail(f"publish made more than {MAX_POINTS} writes")
    assert points >= 6, f"only {points} write points: the hook is not on the write path"


def test_attack_kill_9_at_every_write_of_the_site(registry_template: Reg, tmp_path: Path) -> None:
    reg = _copy(registry_template, tmp_path / "r")
    points = 0
    for n in range(1, MAX_POINTS + 1):
        if not killed_at(n, lambda: registry_cli.main(["site", str(reg.dir)])):
            break
        points += 1
        _verify_names_leftovers(reg, n)
    else:
        pytest.fail(f"the site build made more than {MAX_POINTS} writes")
    assert points >= 6 and verify_registry(reg.dir).ok and not leftovers(reg.dir)
    assert "@acme/weather" in (reg.dir / "index.html").read_text()
    assert (reg.dir / "plugins" / "acme" / "weather.html").is_file()


def test_attack_kill_9_at_every_write_of_install_and_lock(registry_template: Reg, tmp_path: Path) -> None:
    points = 0
    for n in range(1, MAX_POINTS + 1):
        proj_dir = tmp_path / f"p{n}"
        proj_dir.mkdir()
        yaml_path = proj_dir / "extism.yaml"
        yaml_path.write_text(f'registries:\n  default: {registry_template.dir}\nplugins:\n  "@acme/weather": "^1"\n')
        cache = proj_dir / "cache"
        argv = ["install", "--project", str(yaml_path)]
        from extism_platform.cli import plugin as plugin_cli

        crashed = killed_at(n, lambda argv=argv: plugin_cli.main(argv), {"EXTISM_PLATFORM_CACHE": str(cache)})
        lock_path = proj_dir / "extism.lock"
        lock = read_lock(lock_path)  # absent or complete: never half a lock
        if not crashed:
            assert lock is not None and set(lock.plugins) == {"@acme/weather", "@acme/units"}
            break
        points += 1
        project = load_project(yaml_path)
        if lock is not None:  # the lock is the last write: a frozen install must work from it
            install(project, frozen=True, cache_dir=cache).write()
        result = install(project, cache_dir=cache)  # the next command uses (and mends) what is there
        result.write()
        again = install(project, frozen=True, cache_dir=cache)
        assert {p.locked.name: p.locked.version for p in again.plugins} == {
            "@acme/weather": "1.2.0",
            "@acme/units": "0.3.1",
        }
        from extism_platform.host.sources import from_lock

        assert {a.info.name for a in from_lock(lock_path, cache_dir=cache)} == {"@acme/weather", "@acme/units"}
    else:
        pytest.fail(f"install made more than {MAX_POINTS} writes")
    assert points >= 5, f"only {points} write points: the hook is not on the write path"
