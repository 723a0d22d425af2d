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
