"""Who may read what from a served registry: private scopes and `extism-registry serve --tokens FILE`.

A scope is private when registry.json lists it in `private_scopes` (`extism-registry access DIR @acme
private`). What belongs to a scope, and so needs a token that may read it:

- `metadata/N.scope-<scope>.json` (`N.unscoped.json` for `_`): the delegated TUF role that lists the
  scope's packages. The top-level roles (root, timestamp, snapshot, targets) stay public: they name the
  *scopes* (role names, key ids, versions) but no package of them, so an anonymous visitor learns that
  `@acme` exists, never what is in it;
- `index/<scope>/…`: the index files (versions, permissions, author keys);
- `blobs/sha256/<hex>` referenced only by packages of private scopes (a blob a public package also
  references is public anyway);
- the site's `plugins/<scope>/…` pages and `scopes/<scope>/` listing. The site's `index.html` and
  `search.json` list only public scopes.

The token file (YAML) maps tokens — preferably their sha256, so the file holds no secret — to scopes:

```yaml
tokens:
  - name: ci                      # a label: shown in 403 messages and the server's log, never the token
    sha256: 9f86d081884c7d65…     # hex sha256 of the token (`printf %s "$TOKEN" | sha256sum`)
    read: ["@acme"]               # scopes it may read; "*" = every scope; "_" = unscoped packages
  - name: laptop
    token: s3cret                 # the token itself (discouraged: the file then holds a secret)
    read: ["*"]
```

`serve --token T` is the shorthand of one token that reads everything with the *whole* directory private
(site, TUF metadata and all). Tokens are compared in constant time (sha256 of what was sent against every
entry, no early exit). `Authorization: Basic` works too, its password being the token, so a registry URL
`https://ci:TOKEN@host/` in extism.yaml reaches it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plugin_format.errors import RegistryError
from plugin_format.yaml_load import YamlLimitError, load_yaml
from registry_static.layout import REGISTRY_JSON, UNSCOPED, UNSCOPED_ROLE, normalize_scope, scope_label

EVERYTHING = "*"
TOKEN_KEYS = ("name", "sha256", "token", "read", "publish")
_ROLE_FILE = re.compile(r"metadata/(?:\d+\.)?(?P<role>[^/]+)\.json")


def token_digest(token: str) -> bytes:
    """What a token file stores (hex) and what a sent token is compared by."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def scopes_label(scopes: frozenset[str]) -> str:
    if EVERYTHING in scopes:
        return "every scope"
    return ", ".join(scope_label(s) for s in sorted(scopes)) or "nothing"


@dataclass(frozen=True)
class TokenEntry:
    """One token of the file: its sha256 and the scopes it may read (and publish)."""

    name: str
    digest: bytes = field(repr=False)
    read: frozenset[str]
    publish: frozenset[str] = frozenset()

    def may_read(self, scope: str) -> bool:
        return EVERYTHING in self.read or scope in self.read


def _scopes(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistryError(f'{where}: expected a list of scopes (e.g. ["@acme"], or ["*"] for every scope)')
    out = set()
    for v in value:
        out.add(EVERYTHING if v.strip() == EVERYTHING else normalize_scope(v))
    return frozenset(out)


def parse_tokens(doc: Any, where: str) -> list[TokenEntry]:
    """The `tokens:` list of a token file (already parsed YAML), every error naming the entry and field."""
    if not isinstance(doc, Mapping) or set(doc) - {"tokens"}:
        raise RegistryError(f"{where}: expected a mapping with one key, `tokens:` (a list of tokens)")
    items = doc.get("tokens") or []
    if not isinstance(items, list):
        raise RegistryError(f"{where}: tokens: expected a list")
    out = []
    for i, item in enumerate(items):
        at = f"{where}: tokens[{i}]"
        if not isinstance(item, Mapping):
            raise RegistryError(f"{at}: expected a mapping with name, sha256 (or token) and read")
        unknown = sorted(set(item) - set(TOKEN_KEYS))
        if unknown:
            raise RegistryError(
                f"{at}: unknown field(s) {', '.join(map(str, unknown))} (allowed: {', '.join(TOKEN_KEYS)})"
            )
        name = str(item.get("name") or f"token {i + 1}")
        if ("sha256" in item) == ("token" in item):
            raise RegistryError(f"{at}: give exactly one of sha256 (preferred: the file then holds no secret) or token")
        if "sha256" in item:
            hexd = str(item["sha256"]).strip().lower()
            if not re.fullmatch(r"[0-9a-f]{64}", hexd):
                raise RegistryError(f'{at}.sha256: expected 64 hex digits (`printf %s "$TOKEN" | sha256sum`)')
            digest = bytes.fromhex(hexd)
        else:
            if not isinstance(item["token"], str) or len(item["token"]) < 8:
                raise RegistryError(f"{at}.token: expected a string of at least 8 characters")
            digest = token_digest(item["token"])
        read = _scopes(item.get("read"), f"{at}.read")
        if not read:
            raise RegistryError(f"{at}.read: empty; list the scopes this token may read")
        out.append(TokenEntry(name, digest, read, _scopes(item.get("publish"), f"{at}.publish")))
    return out


def load_token_file(path: Path) -> list[TokenEntry]:
    """Read and check a token file (see the module docstring)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"{path}: {exc.strerror or exc} (the token file of `serve --tokens`)") from None
    try:
        doc = load_yaml(text, str(path))
    except YamlLimitError as exc:
        raise RegistryError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_tokens(doc, str(path))


@dataclass(frozen=True)
class Decision:
    """The answer to one request: 200 (go on), or 401/403 with the message to send."""

    status: int
    message: str = ""
    scope: str | None = None  # the private scope(s) the path belongs to (None: public)

    @property
    def allowed(self) -> bool:
        return self.status == 200


class AccessPolicy:
    """Private scopes of one registry directory and the tokens that may read them."""

    def __init__(self, root: Path, tokens: list[TokenEntry] | None = None, *, everything_private: bool = False) -> None:
        self.root = Path(root)
        self.tokens = list(tokens or [])
        self.everything_private = everything_private
        self._lock = threading.Lock()
        self._state: tuple[Any, ...] | None = None
        self._private: frozenset[str] = frozenset()
        #: sha256 → the private scopes that reference it when only private packages do (empty: public)
        self._blobs: dict[str, frozenset[str]] = {}

    @classmethod
    def single_token(cls, root: Path, token: str) -> AccessPolicy:
        """`serve --token T`: T reads everything, and nothing is served without it."""
        return cls(root, [TokenEntry("--token", token_digest(token), frozenset({EVERYTHING}))], everything_private=True)

    # ------------------------------------------------------------ what is private

    def _stamp(self) -> tuple[Any, ...]:
        out = []
        for rel in (REGISTRY_JSON, "metadata/timestamp.json"):
            try:
                st = (self.root / rel).stat()
                out.append((st.st_mtime_ns, st.st_size, st.st_ino))
            except OSError:
                out.append(None)
        return tuple(out)

    def _refresh(self) -> None:
        """Re-read the private scopes and which blobs are theirs when registry.json or timestamp changed."""
        stamp = self._stamp()
        with self._lock:
            if stamp == self._state:
                return
            private, blobs = _scan_registry(self.root)
            self._private, self._blobs, self._state = private, blobs, stamp

    def private_scopes(self) -> frozenset[str]:
        self._refresh()
        return self._private

    @property
    def active(self) -> bool:
        """Whether anything at all needs a token (else the server skips every check)."""
        return self.everything_private or bool(self.private_scopes())

    def scopes_of(self, rel: str) -> frozenset[str] | None:
        """The private scopes `rel` belongs to (a token must read one of them); empty when it is public;
        None (answered 404) for a blob no index file references (yet) while the registry has private
        scopes, and for registry.json then."""
        self._refresh()
        if rel == REGISTRY_JSON and self._private:
            return None  # operator config: `featured` may name private plugins
        parts = rel.split("/")
        scope: str | None = None
        if m := _ROLE_FILE.fullmatch(rel):
            role = m["role"]
            scope = UNSCOPED if role == UNSCOPED_ROLE else role[len("scope-") :] if role.startswith("scope-") else None
        elif parts[0] in ("index", "plugins", "scopes") and len(parts) >= 3:
            scope = parts[1]
        elif parts[0] == "blobs" and len(parts) == 3:
            owners = self._blobs.get(parts[2])
            if owners is None:
                return None if self._private else frozenset()
            return owners
        return frozenset({scope}) if scope in self._private else frozenset()

    # ------------------------------------------------------------ deciding

    def _token(self, authorization: str | None) -> tuple[TokenEntry | None, bool]:
        """(the matching entry, whether a bearer token was sent at all). Constant time over the file."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "basic" and value:
            # `https://user:TOKEN@host/` in a registry URL: the password is the token (as git hosts do)
            try:
                value = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                value = ""
        elif scheme.lower() != "bearer":
            value = ""
        if not value:
            return None, bool(authorization and authorization.strip())
        digest = token_digest(value)
        found = None
        for entry in self.tokens:  # no early exit: the time does not depend on which entry matched
            if hmac.compare_digest(entry.digest, digest):
                found = entry
        return found, True

    def decide(self, rel: str, authorization: str | None) -> Decision:
        """May a request for `rel` (a path inside the registry) with this Authorization header be answered?"""
        if not self.active:
            return Decision(200)
        needed = self.scopes_of(rel)
        if needed is None:
            # A blob no index file references (yet): it may be a private package being published now.
            # registry.json: its `featured` may name private plugins.
            return Decision(404, "not found")
        if not needed and not self.everything_private:
            return Decision(200)
        what = scopes_label(needed) if needed else "this registry"
        entry, sent = self._token(authorization)
        if entry is None:
            if sent:
                return Decision(
                    401,
                    f"this registry needs a token: the token sent is not one it accepts (to read {what})",
                )
            return Decision(
                401,
                f"this registry needs a token: {what} is private; send `Authorization: Bearer TOKEN`",
            )
        if not needed or any(entry.may_read(s) for s in needed):
            return Decision(200, scope=",".join(sorted(needed)) or None)
        return Decision(
            403,
            f"token {entry.name!r} may not read {what} (it may read {scopes_label(entry.read)}); "
            f"ask the registry's operator for a token with read access to {what}",
        )


def _scan_registry(root: Path) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """(private scopes from registry.json, every referenced blob's sha256 → its private owner scopes
    when only private packages reference it, else the empty set)."""
    from registry_static.repository import Repository, private_scopes

    try:
        repo = Repository(root, keys_dir=Path("/nonexistent"))
    except RegistryError:
        return frozenset(), {}
    private = frozenset(private_scopes(repo.config))
    if not private:
        return private, {}
    public_refs: set[str] = set()
    private_refs: dict[str, set[str]] = {}
    for scope in repo.scopes():
        for name in repo.packages(scope):
            try:
                idx = repo.index(name)
            except RegistryError:  # a damaged index file: its blobs stay unlisted (so unserved)
                continue
            for v in idx.versions if idx is not None else ():
                for ref in (v.wasm, v.plugin_json, v.sig, v.readme):
                    if ref is None:
                        continue
                    if scope in private:
                        private_refs.setdefault(ref.sha256, set()).add(scope)
                    else:
                        public_refs.add(ref.sha256)
    blobs = {h: frozenset(owners) for h, owners in private_refs.items() if h not in public_refs}
    blobs.update({h: frozenset() for h in public_refs})
    return private, blobs
