"""A registry's TUF metadata as the client last verified it, read from the cache without a network.

`install --offline` (and `--frozen` when the registry is unreachable) resolve from the index files a
previous online run downloaded. Nothing is trusted by location: the chain is checked again with
python-tuf's Metadata API, in the client's order — the cached root (the trust anchor, verified when it
was stored) signs timestamp, snapshot and targets; timestamp pins the snapshot's hash, the snapshot
pins each role's version, the scope's delegated role pins the index file's hash and length.

Deliberately not checked offline: expiry. An expired timestamp means "ask the registry again", which
offline cannot do; the files are still exactly what the registry signed, and an attacker cannot feed a
machine that does not read the network. `stale` says when that is the case, and the commands say so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from tuf.api import exceptions as tuf_exc
from tuf.api.metadata import Metadata, Snapshot, Targets, Timestamp

from plugin_format.errors import NotFoundError, OfflineError, TrustError


class CachedMetadata:
    """The verified metadata chain of one registry's cached TUF state (`<cache>/registries/<h>/`)."""

    def __init__(self, state_dir: Path, url: str) -> None:
        self.state_dir = Path(state_dir)
        self.url = url
        self._roles: dict[str, Metadata[Targets]] = {}
        self._verify_top()

    def _read(self, path: Path, what: str) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise OfflineError(
                f"offline: registry {self.url}: {what} is not in the cache ({path}); "
                "run the command once without --offline"
            ) from None

    def _meta(self, role: str) -> bytes:
        return self._read(self.state_dir / "metadata" / f"{quote(role, safe='')}.json", f"{role} metadata")

    def _verify_top(self) -> None:
        try:
            root = Metadata.from_bytes(self._meta("root"))
            ts: Metadata[Timestamp] = Metadata.from_bytes(self._meta("timestamp"))
            root.verify_delegate("timestamp", ts)
            snap_bytes = self._meta("snapshot")
            ts.signed.snapshot_meta.verify_length_and_hashes(snap_bytes)
            snap: Metadata[Snapshot] = Metadata.from_bytes(snap_bytes)
            root.verify_delegate("snapshot", snap)
            top: Metadata[Targets] = Metadata.from_bytes(self._meta("targets"))
            root.verify_delegate("targets", top)
        except tuf_exc.RepositoryError as exc:
            raise TrustError(f"offline: registry {self.url}: the cached metadata does not verify ({exc})") from None
        except ValueError as exc:
            raise TrustError(f"offline: registry {self.url}: the cached metadata is damaged ({exc})") from None
        self.snapshot = snap
        self.top = top
        self._check_version("targets", top)
        now = datetime.now(UTC)
        self.stale = min(ts.signed.expires, snap.signed.expires, top.signed.expires) < now

    def _check_version(self, role: str, md: Metadata[Targets]) -> None:
        meta = self.snapshot.signed.meta.get(f"{role}.json")
        if meta is None or meta.version != md.signed.version:
            raise TrustError(
                f"offline: registry {self.url}: cached {role} version {md.signed.version} is not the one "
                "the cached snapshot names (run the command once without --offline)"
            )

    def role(self, name: str) -> Metadata[Targets]:
        """A delegated role, verified against `targets` and the snapshot."""
        if name not in self._roles:
            try:
                md: Metadata[Targets] = Metadata.from_bytes(self._meta(name))
                self.top.verify_delegate(name, md)
            except tuf_exc.RepositoryError as exc:
                raise TrustError(f"offline: registry {self.url}: cached role {name} does not verify ({exc})") from None
            self._check_version(name, md)
            self._roles[name] = md
        return self._roles[name]

    def roles(self) -> list[str]:
        d = self.top.signed.delegations
        return [r.name for r in d.roles.values()] if d and d.roles else []

    def target_paths(self) -> list[str]:
        """Every target path of the delegated roles that are in the cache (others are skipped)."""
        out: list[str] = []
        for name in self.roles():
            try:
                out.extend(self.role(name).signed.targets)
            except OfflineError:
                continue
        return out

    def target(self, path: str, local: Path) -> bytes:
        """The cached target file at `local`, checked against the role that delegates `path`."""
        d = self.top.signed.delegations
        for name, terminating in d.get_roles_for_target(path) if d else ():
            info = self.role(name).signed.targets.get(path)
            if info is not None:
                data = self._read(local, f"the index file {path}")
                try:
                    info.verify_length_and_hashes(data)
                except tuf_exc.LengthOrHashMismatchError:
                    raise TrustError(
                        f"offline: registry {self.url}: the cached {path} differs from what the signed "
                        "metadata pins (modified on disk); run the command once without --offline"
                    ) from None
                return data
            if terminating:
                break
        raise NotFoundError(f"registry {self.url} (offline, from the cache): no plugin at {path}")
