"""Names and paths of a registry directory; small file helpers shared by every module.

```
REGISTRY/
  registry.json                      # name, expiry policy, featured plugins (operator config, unsigned)
  metadata/1.root.json …  N.root.json   # TUF roots (each signed by the previous root's keys too)
  metadata/root.json                 # a copy of the newest root
  metadata/timestamp.json            # the only mutable TUF file
  metadata/N.snapshot.json, N.targets.json, N.<role>.json   # consistent snapshots: never overwritten
  index/<scope>/<sha256>.<name>.json # one index file per package ("_" holds unscoped packages)
  index/<scope>/<sha256>._scope.json # the scope's author keys
  index/<scope>/<sha256>._advisories.json  # the scope's security advisories (signed like the index files)
  blobs/sha256/<hex>                 # wasm, plugin.json, sig, README: content-addressed, immutable
  index.html, plugins/…, assets/…    # the generated site
```
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from plugin_format import names
from plugin_format.errors import RegistryError, TrustError
from plugin_format.files import atomic_write

UNSCOPED = "_"  # the directory (and pseudo-scope) of packages without a scope
UNSCOPED_ROLE = "unscoped"
SCOPE_POLICY = "_scope.json"  # cannot clash with a package: names start with [a-z0-9]
SCOPE_ADVISORIES = "_advisories.json"

REGISTRY_JSON = "registry.json"
REGISTRY_SCHEMA = "extism-platform/registry@1"
INDEX_SCHEMA = "extism-platform/index@1"
SCOPE_SCHEMA = "extism-platform/scope@1"
ADVISORIES_SCHEMA = "extism-platform/advisories@1"
LOCK_NAME = ".extism-registry.lock"


def check_name(name: str) -> str:
    if not names.is_valid(name):
        raise RegistryError(f"{name!r} is not a plugin name ([@scope/]name: lowercase letters, digits, '-')")
    return name


def split_name(name: str) -> tuple[str, str]:
    """`@acme/weather` → (`acme`, `weather`); `greeter` → (`_`, `greeter`): index directories."""
    scope, bare = names.split(check_name(name))
    return scope or UNSCOPED, bare


def normalize_scope(scope: str) -> str:
    """Accept `@acme`, `acme` or `_` (unscoped); return `acme` / `_`."""
    s = scope.strip()
    s = s[1:] if s.startswith("@") else s
    s = s.rstrip("/")
    if s != UNSCOPED and not names.is_valid_scope(s):
        raise RegistryError(
            f"{scope!r} is not a scope (lowercase letters, digits and '-', e.g. @acme; "
            f"'{UNSCOPED}' is the namespace of plugins without an @scope)"
        )
    return s


def scope_label(scope: str) -> str:
    return f"the unscoped namespace '{UNSCOPED}' (plugins without an @scope)" if scope == UNSCOPED else f"@{scope}"


def role_name(scope: str) -> str:
    """The TUF delegated role of a scope. Plain names: role names appear in URLs."""
    return UNSCOPED_ROLE if scope == UNSCOPED else f"scope-{scope}"


def index_path(name: str) -> str:
    """The TUF target path of a package's index file (relative to the registry root)."""
    scope, bare = split_name(name)
    return f"index/{scope}/{bare}.json"


def policy_path(scope: str) -> str:
    return f"index/{scope}/{SCOPE_POLICY}"


def advisories_path(scope: str) -> str:
    return f"index/{scope}/{SCOPE_ADVISORIES}"


def scope_paths(scope: str) -> list[str]:
    return [f"index/{scope}/*"]


def consistent_path(target_path: str, sha256: str) -> str:
    """Where a target is stored: its sha256 prefixed to the file name (TUF consistent snapshots)."""
    d, _, base = target_path.rpartition("/")
    return f"{d}/{sha256}.{base}" if d else f"{sha256}.{base}"


def blob_path(sha256: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise RegistryError(f"{sha256!r} is not a sha256 hex digest")
    return f"blobs/sha256/{sha256}"


def folded(name: str) -> str:
    """`@acme/weather` → `acme/weather`, `greeter` → `_/greeter`: used for site page paths."""
    scope, bare = split_name(name)
    return f"{scope}/{bare}"


def compact_json(doc: Any) -> bytes:
    """Stable, small bytes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def read_schema_doc(data: bytes, where: str, schema: str, what: str) -> dict[str, Any]:
    """A registry JSON document of `schema` (an index file, a scope policy, an advisories file), or a
    TrustError naming `where` and what it should have been."""
    try:
        doc = json.loads(data)
    except ValueError:
        raise TrustError(f"{where}: not JSON") from None
    if not isinstance(doc, dict) or doc.get("schema") != schema:
        raise TrustError(f"{where}: not {what} (schema should be {schema!r})")
    return doc


def write_new(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Atomically create an immutable file; identical content already there is fine, different is an error."""
    if path.exists():
        if path.read_bytes() == data:
            return
        raise RegistryError(
            f"{path}: already exists with other content (immutable file; another publish "
            "ran at the same time? re-run the command)"
        )
    atomic_write(path, data, fsync=fsync)
