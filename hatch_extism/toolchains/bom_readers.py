"""Readers of what a build bundled, for the bill of materials (`plugin_format.bom`): the lock and
manifest files package managers write, read without running them. Every reader returns entries
in any order; the build sorts and de-duplicates them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from importlib import metadata
from pathlib import Path, PurePosixPath

from plugin_format import bom
from plugin_format.errors import BuildError


@lru_cache(maxsize=1)
def platform_version() -> str:
    try:
        return metadata.version("extism-platform")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def platform_pdk(language: str) -> dict[str, str]:
    """The platform's own PDK for `language`, as shipped with this installation."""
    return bom.entry("platform", f"extism-pdk-{language}", platform_version())


def _read_json(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BuildError(f"{path}: cannot be read as JSON ({exc})") from None
    return doc if isinstance(doc, dict) else {}


def npm_package(directory: Path) -> dict[str, str] | None:
    """The npm package installed in `directory` (its package.json's name and version)."""
    manifest = directory / "package.json"
    if not manifest.is_file():
        return None
    doc = _read_json(manifest)
    name, version = doc.get("name"), doc.get("version")
    return bom.entry("npm", name, version) if isinstance(name, str) and isinstance(version, str) else None


def package_dir_of(path: PurePosixPath) -> PurePosixPath | None:
    """`a/node_modules/@s/p/lib/x.js` → `a/node_modules/@s/p` (the innermost package)."""
    parts = path.parts
    if "node_modules" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("node_modules")
    size = 3 if i + 1 < len(parts) and parts[i + 1].startswith("@") else 2
    return PurePosixPath(*parts[: i + size]) if i + size <= len(parts) else None


def npm_from_inputs(base: Path, inputs: Iterable[str]) -> list[dict[str, str]]:
    """The npm packages whose files a bundler read (`inputs`, relative to `base`)."""
    dirs = {d for d in (package_dir_of(PurePosixPath(i)) for i in inputs) if d is not None}
    return [e for e in (npm_package(base / d) for d in sorted(dirs)) if e is not None]


def npm_lock(lockfile: Path) -> list[dict[str, str]]:
    """The packages of a package-lock.json (lockfileVersion 2 or 3) that are not dev-only."""
    if not lockfile.is_file():
        return []
    out = []
    for key, pkg in (_read_json(lockfile).get("packages") or {}).items():
        if not key or not isinstance(pkg, dict) or pkg.get("dev") or pkg.get("link"):
            continue
        name = pkg.get("name") or str(package_dir_of(PurePosixPath(key)) or key).rsplit("node_modules/", 1)[-1]
        if isinstance(pkg.get("version"), str):
            out.append(bom.entry("npm", name, pkg["version"]))
    return out


def go_requirements(modjson: dict) -> list[dict[str, str]]:
    """The modules a go.mod requires (`go mod edit -json` form), direct and indirect."""
    return [bom.entry("go", r["Path"], r["Version"]) for r in modjson.get("Require") or () if r.get("Path")]
