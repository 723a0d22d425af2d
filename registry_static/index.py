"""The per-package index file (`index/<scope>/<name>.json`) and the scope policy file (`_scope.json`).

Both are TUF targets of the scope's delegated role, so a client trusts their bytes only after TUF has
verified their length and sha256; the author keys inside them then verify each artifact's DSSE signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plugin_format.errors import SemverError, TrustError
from plugin_format.permissions import PermissionSet
from plugin_format.semver import Version
from registry_static.layout import INDEX_SCHEMA, SCOPE_SCHEMA, compact_json, read_schema_doc


@dataclass(frozen=True)
class BlobRef:
    """A content-addressed file: `blobs/sha256/<sha256>`, exactly `size` bytes."""

    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> BlobRef:
        if not isinstance(d, dict) or not isinstance(d.get("sha256"), str) or not isinstance(d.get("size"), int):
            raise TrustError(f"{where}: expected {{sha256, size}}")
        return cls(d["sha256"], d["size"])


@dataclass
class VersionEntry:
    """One published version, as recorded in the package's index file."""

    version: str
    published: str
    key_id: str
    wasm: BlobRef
    plugin_json: BlobRef
    sig: BlobRef
    readme: BlobRef | None = None
    yanked: bool = False
    deprecated: str | None = None
    description: str = ""
    language: str = ""
    license: str = ""
    tags: list[str] = field(default_factory=list)
    exports: list[dict[str, Any]] = field(default_factory=list)
    permissions: dict[str, Any] = field(default_factory=dict)
    dependencies: dict[str, str] = field(default_factory=dict)
    wasi: bool | None = None  # None: published before the index recorded it
    #: what this version asks for compared with the previous published version (`PermissionDiff.to_dict()`
    #: plus `against`: that version), recorded at publish; None for the first version
    permissions_diff: dict[str, Any] | None = None

    def permission_set(self) -> PermissionSet:
        """The requested permissions (plus WASI) as the one comparable model."""
        return PermissionSet.from_dict({**self.permissions, "wasi": bool(self.wasi)})

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "published": self.published,
            "key_id": self.key_id,
            "wasm": self.wasm.to_dict(),
            "plugin_json": self.plugin_json.to_dict(),
            "sig": self.sig.to_dict(),
            "readme": self.readme.to_dict() if self.readme else None,
            "yanked": self.yanked,
            "deprecated": self.deprecated,
            "description": self.description,
            "language": self.language,
            "license": self.license,
            "tags": list(self.tags),
            "exports": self.exports,
            "permissions": self.permissions,
            "dependencies": dict(self.dependencies),
            "wasi": self.wasi,
            "permissions_diff": self.permissions_diff,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str) -> VersionEntry:
        if not isinstance(d, dict):
            raise TrustError(f"{where}: expected an object")
        try:
            Version.parse(d.get("version", ""))
        except SemverError as exc:
            raise TrustError(f"{where}.version: {exc}") from None
        for key in ("published", "key_id"):
            if not isinstance(d.get(key), str):
                raise TrustError(f"{where}.{key}: expected a string")
        return cls(
            version=d["version"],
            published=d["published"],
            key_id=d["key_id"],
            wasm=BlobRef.from_dict(d.get("wasm"), f"{where}.wasm"),
            plugin_json=BlobRef.from_dict(d.get("plugin_json"), f"{where}.plugin_json"),
            sig=BlobRef.from_dict(d.get("sig"), f"{where}.sig"),
            readme=BlobRef.from_dict(d["readme"], f"{where}.readme") if d.get("readme") else None,
            yanked=bool(d.get("yanked", False)),
            deprecated=d.get("deprecated") or None,
            description=str(d.get("description", "")),
            language=str(d.get("language", "")),
            license=str(d.get("license", "")),
            tags=list(d.get("tags") or []),
            exports=list(d.get("exports") or []),
            permissions=dict(d.get("permissions") or {}),
            dependencies=dict(d.get("dependencies") or {}),
            wasi=d["wasi"] if isinstance(d.get("wasi"), bool) else None,
            permissions_diff=d.get("permissions_diff") if isinstance(d.get("permissions_diff"), dict) else None,
        )


@dataclass
class IndexFile:
    """Every version of one package, lowest first, plus the public keys that signed them."""

    name: str
    versions: list[VersionEntry] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # author key id → public key PEM

    def get(self, version: str) -> VersionEntry | None:
        want = Version.parse(version)
        return next((v for v in self.versions if Version.parse(v.version) == want), None)

    def previous(self, version: str) -> VersionEntry | None:
        """The highest published version below `version` (what its permission difference is taken against)."""
        want = Version.parse(version)
        lower = [v for v in self.versions if Version.parse(v.version) < want]
        return lower[-1] if lower else None

    def add(self, entry: VersionEntry) -> None:
        self.versions.append(entry)
        self.versions.sort(key=lambda e: Version.parse(e.version))

    def to_bytes(self) -> bytes:
        return compact_json(
            {
                "schema": INDEX_SCHEMA,
                "name": self.name,
                "keys": dict(sorted(self.keys.items())),
                "versions": [v.to_dict() for v in self.versions],
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes, where: str, expect_name: str | None = None) -> IndexFile:
        doc = read_schema_doc(data, where, INDEX_SCHEMA, "an index file")
        if expect_name is not None and doc.get("name") != expect_name:
            raise TrustError(f"{where}: describes {doc.get('name')!r}, not {expect_name!r}")
        keys = doc.get("keys") or {}
        if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
            raise TrustError(f"{where}.keys: expected {{key id: public key PEM}}")
        versions = doc.get("versions")
        if not isinstance(versions, list):
            raise TrustError(f"{where}.versions: expected a list")
        entries = [VersionEntry.from_dict(v, f"{where}.versions[{i}]") for i, v in enumerate(versions)]
        return cls(doc["name"], entries, dict(keys))


@dataclass
class ScopePolicy:
    """Who may publish into a scope: author DSSE public keys by key id."""

    scope: str
    authors: dict[str, dict[str, str]] = field(default_factory=dict)  # key id → {"pem", "label", "added"}

    def to_bytes(self) -> bytes:
        return compact_json({"schema": SCOPE_SCHEMA, "scope": self.scope, "authors": self.authors})

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> ScopePolicy:
        doc = read_schema_doc(data, where, SCOPE_SCHEMA, "a scope policy file")
        authors = doc.get("authors") or {}
        if not isinstance(authors, dict):
            raise TrustError(f"{where}.authors: expected an object")
        return cls(str(doc.get("scope")), dict(authors))
