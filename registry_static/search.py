"""`extism-plugin search TEXT` and `info NAME`: a registry read through the verifying client.

Package names come from the TUF-signed roles (never the site's unsigned search.json); descriptions,
tags and versions from each package's TUF-verified index file. A registry with more than
`SEARCH_INDEX_MAX` packages is searched by name first, and only the index files of the name matches
are read (a fresh client never downloads thousands of index files for one search).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plugin_format.errors import NotFoundError, SemverError
from plugin_format.semver import Range
from registry_static.client import RegistryClient, VersionInfo
from registry_static.outdated import latest_of

SEARCH_INDEX_MAX = 500


@dataclass(frozen=True)
class Hit:
    name: str
    version: str | None
    description: str
    tags: tuple[str, ...]
    language: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "tags": list(self.tags),
            "language": self.language,
        }


def _hit(client: RegistryClient, name: str) -> Hit:
    top = latest_of(client.versions(name))
    if top is None:
        return Hit(name, None, "", (), "")
    return Hit(name, top.version, top.description, tuple(top.tags), top.language)


def search(client: RegistryClient, text: str, *, limit: int = 50) -> tuple[list[Hit], bool]:
    """Plugins whose name, description or tags contain every word of `text` (case-insensitive), and
    whether only names were searched (a registry of more than `SEARCH_INDEX_MAX` packages)."""
    words = [w for w in text.lower().split() if w]
    names = client.packages()
    names_only = len(names) > SEARCH_INDEX_MAX
    hits: list[Hit] = []
    for name in names:
        if names_only and not all(w in name for w in words):
            continue
        hit = _hit(client, name)
        hay = " ".join([hit.name, hit.description, *hit.tags]).lower()
        if all(w in hay for w in words):
            hits.append(hit)
        if len(hits) >= limit:
            break
    return hits, names_only


def info(client: RegistryClient, name: str, spec: str | None = None) -> dict[str, Any]:
    """One plugin: every version (yanked/deprecated marked), and the details of `spec`'s best match
    (default: the latest release)."""
    infos = client.versions(name)
    if spec:
        try:
            rng = Range.parse(spec)
        except SemverError as exc:
            raise NotFoundError(f"{name}@{spec}: {exc}") from None
        fits = [i for i in infos if rng.matches(i.semver) and not i.yanked]
        chosen: VersionInfo | None = max(fits, key=lambda i: i.semver) if fits else None
        if chosen is None:
            have = ", ".join(i.version for i in infos) or "none"
            raise NotFoundError(f"{name}: no version matches {spec!r} (published: {have})")
    else:
        chosen = latest_of(infos)
    latest = latest_of(infos)
    doc: dict[str, Any] = {
        "name": name,
        "registry": client.url,
        "latest": latest.version if latest else None,
        "versions": [
            {"version": i.version, "published": i.published, "yanked": i.yanked, "deprecated": i.deprecated}
            for i in infos
        ],
        "verified": "index file verified through the registry's TUF metadata (timestamp → snapshot → scope role)",
    }
    if chosen is not None:
        doc["selected"] = {
            "version": chosen.version,
            "description": chosen.description,
            "language": chosen.language,
            "license": chosen.license,
            "tags": list(chosen.tags),
            "published": chosen.published,
            "author_key_id": chosen.key_id,
            "wasm_sha256": chosen.sha256,
            "size": chosen.size,
            "exports": [{"name": e.get("name"), "description": e.get("description", "")} for e in chosen.exports],
            "permissions": chosen.permissions,
            "dependencies": chosen.dependencies,
            "yanked": chosen.yanked,
            "deprecated": chosen.deprecated,
        }
    return doc
