"""The content-addressed cache on disk, read without a registry (what `extism-mcp-server --project` serves).

```
<cache>/blobs/sha256/<hex>     wasm, plugin.json, .sig — written by RegistryClient only after verification
<cache>/keys/<key id>.pem      author public keys; the id is the sha256 of the raw key, so a file is
                               checked against its own name before use
<cache>/registries/<h>/        per-registry TUF state (client.py)
```
Nothing here is trusted by location: every read is checked against the hash that names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from plugin_format import signing
from plugin_format.artifact import sha256_hex
from plugin_format.errors import IntegrityError, NotFoundError
from plugin_format.files import atomic_write
from registry_static.client import default_cache_dir
from registry_static.layout import blob_path


def _root(cache_dir: Path | None) -> Path:
    return Path(cache_dir) if cache_dir else default_cache_dir()


def read_blob(sha256: str, what: str, cache_dir: Path | None = None) -> bytes:
    """The cached bytes whose sha256 is `sha256`; `IntegrityError` if they were changed on disk."""
    path = _root(cache_dir) / blob_path(sha256)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{what}: not in the cache ({path}); run `extism-plugin install`") from None
    if sha256_hex(data) != sha256:
        raise IntegrityError(
            f"{what}: the cached file {path} does not match its sha256 (modified on disk); refusing it — "
            "run `extism-plugin install` to fetch and verify it again"
        )
    return data


def store_blob(data: bytes, cache_dir: Path | None = None) -> Path:
    """Put verified bytes in the content-addressed cache (only ever call it after checking them)."""
    path = _root(cache_dir) / blob_path(sha256_hex(data))
    if not path.is_file():
        atomic_write(path, data, fsync=False)
    return path


def key_path(key_id: str, cache_dir: Path | None = None) -> Path:
    blob_path(key_id)  # same shape check: 64 hex digits
    return _root(cache_dir) / "keys" / f"{key_id}.pem"


def store_key(key_id: str, pem: str, cache_dir: Path | None = None) -> None:
    """Remember an author key (already matched to `key_id` by the registry client)."""
    path = key_path(key_id, cache_dir)
    if not path.is_file() or path.read_text() != pem:
        atomic_write(path, pem.encode(), fsync=False)


def read_key(key_id: str, cache_dir: Path | None = None) -> Ed25519PublicKey:
    """The cached author key whose id is `key_id`; refuses a file whose key has another id."""
    path = key_path(key_id, cache_dir)
    if not path.is_file():
        raise NotFoundError(f"author key {key_id[:16]}…: not in the cache ({path}); run `extism-plugin install`")
    key = signing.load_public_key(path)
    if signing.key_id(key) != key_id:
        raise IntegrityError(f"{path}: holds key {signing.key_id(key)[:16]}…, not {key_id[:16]}… (modified on disk)")
    return key


# ---- `extism-plugin cache ls|verify|clean` -----------------------------------------------------------

#: What the package manager keeps in the platform cache. The same directory also holds toolchains and
#: build caches of other commands: `clean` removes these folders only.
PACKAGE_DIRS = ("blobs", "keys", "registries")


def _blob_files(root: Path) -> list[Path]:
    d = root / "blobs" / "sha256"
    return sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")) if d.is_dir() else []


def _key_files(root: Path) -> list[Path]:
    d = root / "keys"
    return sorted(d.glob("*.pem")) if d.is_dir() else []


def cache_listing(cache_dir: Path | None = None) -> dict[str, Any]:
    """Blobs (sha256, size), author keys and the registries whose TUF state is cached."""
    root = _root(cache_dir)
    blobs = [{"sha256": p.name, "size": p.stat().st_size} for p in _blob_files(root)]
    registries = []
    regs = root / "registries"
    for d in sorted(regs.iterdir()) if regs.is_dir() else []:
        url_file = d / "url"
        index = d / "index"
        registries.append(
            {
                "url": url_file.read_text().strip() if url_file.is_file() else None,
                "dir": str(d),
                "index_files": len(list(index.iterdir())) if index.is_dir() else 0,
            }
        )
    return {
        "cache": str(root),
        "blobs": blobs,
        "blob_bytes": sum(int(b["size"]) for b in blobs),
        "keys": [p.stem for p in _key_files(root)],
        "registries": registries,
    }


def verify_cache(cache_dir: Path | None = None) -> dict[str, Any]:
    """Re-hash every blob and check every key against its id; `problems` lists each file that fails."""
    root = _root(cache_dir)
    problems: list[dict[str, str]] = []
    blobs = _blob_files(root)
    for p in blobs:
        if sha256_hex(p.read_bytes()) != p.name:
            problems.append({"path": str(p), "problem": "content does not match the sha256 it is named by"})
    keys = _key_files(root)
    for p in keys:
        try:
            read_key(p.stem, root)
        except Exception as exc:  # noqa: BLE001 - any unreadable key file is a problem to report
            problems.append({"path": str(p), "problem": str(exc)})
    return {"cache": str(root), "blobs": len(blobs), "keys": len(keys), "problems": problems}


def clean_cache(cache_dir: Path | None = None, *, corrupt_only: bool = False) -> dict[str, Any]:
    """Remove the package manager's cached files (all, or with `corrupt_only` those `verify_cache`
    flags). Toolchains and other commands' caches in the same directory are left alone."""
    import shutil

    root = _root(cache_dir)
    if corrupt_only:
        bad = [Path(p["path"]) for p in verify_cache(root)["problems"]]  # type: ignore[index]
        for p in bad:
            p.unlink(missing_ok=True)
        return {"cache": str(root), "removed": [str(p) for p in bad]}
    removed = []
    for name in PACKAGE_DIRS:
        d = root / name
        if d.exists():
            shutil.rmtree(d)
            removed.append(str(d))
    return {"cache": str(root), "removed": removed}
