"""`extism-registry verify DIR`: check a registry directory the way a client would, file by file.

A fresh TUF client (trust anchor: the directory's own `metadata/1.root.json`, or a root given by the
caller) walks every package of every scope (and each scope's advisories file), and every version is
fetched and its author signature checked. Problems are collected, not raised, so one run lists them all.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from plugin_format.errors import RegistryError
from registry_static.client import RegistryClient, normalize_url
from registry_static.layout import blob_path, policy_path, role_name
from registry_static.repository import Repository
from registry_static.site import site_leftovers


@dataclass
class VerifyReport:
    registry: str
    packages: int = 0
    versions: int = 0
    blobs: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "ok": self.ok,
            "packages": self.packages,
            "versions": self.versions,
            "blobs": self.blobs,
            "problems": self.problems,
            "warnings": self.warnings,
        }


def verify_registry(directory: Path, *, root: bytes | None = None, warn_days: float = 2) -> VerifyReport:
    """Verify every index file, blob and author signature of the registry in `directory`."""
    directory = Path(directory)
    report = VerifyReport(str(directory))
    try:
        repo = Repository(directory, keys_dir=Path("/nonexistent"))  # reading only: no key is needed
    except RegistryError as exc:
        report.problems.append(str(exc))
        return report
    try:
        for path, why in repo.leftovers():
            report.problems.append(
                f"{path.relative_to(directory)}: left by an interrupted publish ({why}); clients do not see it, "
                "the next publish (or `extism-registry refresh`) removes it"
            )
    except RegistryError as exc:
        report.problems.append(str(exc))
    for path in site_leftovers(directory):
        report.problems.append(
            f"{path.relative_to(directory)}: left by an interrupted site build; run `extism-registry site {directory}`"
        )
    anchor = root if root is not None else (directory / "metadata" / "1.root.json").read_bytes()
    referenced: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="extism-registry-verify-") as tmp:
        client = RegistryClient(normalize_url(str(directory)), Path(tmp), root=anchor)
        try:
            client.updater()
        except RegistryError as exc:
            report.problems.append(str(exc))
            return report
        up = client.updater()
        for scope in repo.scopes():
            try:
                if up.get_targetinfo(policy_path(scope)) is None:
                    report.problems.append(f"{policy_path(scope)}: missing from role {role_name(scope)}")
                client.scope_advisories(scope)  # verified like an index file (none: nothing fetched)
                names = repo.packages(scope)
            except Exception as exc:  # noqa: BLE001 - report and go on with the next scope
                report.problems.append(f"role {role_name(scope)}: {exc}")
                continue
            for name in names:
                report.packages += 1
                try:
                    infos = client.versions(name)
                except RegistryError as exc:
                    report.problems.append(str(exc))
                    continue
                for info in infos:
                    report.versions += 1
                    try:
                        fetched = client.fetch(name, info.version)
                        entry = client.index(name).get(info.version)
                        refs = [entry.wasm, entry.plugin_json, entry.sig] + ([entry.readme] if entry.readme else [])
                        for ref in refs:
                            referenced.add(ref.sha256)
                        if entry.readme:
                            client.readme(name, info.version)
                        del fetched
                    except RegistryError as exc:
                        report.problems.append(str(exc))
        now = datetime.now(UTC)
        soon = now + timedelta(days=warn_days)
        ts = up._trusted_set  # noqa: SLF001 - read-only look at what was verified
        for rname in ("root", "timestamp", "snapshot", "targets"):
            if rname in ts and ts[rname].expires <= soon:
                report.warnings.append(
                    f"role {rname} expires {ts[rname].expires:%Y-%m-%d %H:%M}Z: run "
                    "`extism-registry refresh` (root: `keys rotate root`)"
                )
        for scope in repo.scopes():
            rn = role_name(scope)
            if rn in ts and ts[rn].expires <= soon:
                report.warnings.append(f"role {rn} expires soon: `extism-registry refresh --within 30`")
    blobs_dir = directory / "blobs" / "sha256"
    stored = {p.name for p in blobs_dir.iterdir()} if blobs_dir.is_dir() else set()
    report.blobs = len(referenced)
    for orphan in sorted(stored - referenced):
        if not orphan.startswith("."):
            report.warnings.append(f"{blob_path(orphan)}: not referenced by any index file")
    return report
