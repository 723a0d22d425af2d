"""Which bearer token a client sends to a registry, and the `extism-plugin login` store.

Where a token comes from, first found wins:

1. an explicit token (`--token`, a `RegistryClient(token=…)` argument);
2. `$NAME` when extism.yaml names it (`registries: {acme: {url: …, token_env: NAME}}`), or
   `extism-mcp-server --registry-token-env NAME`;
3. `$EXTISM_REGISTRY_TOKEN_<HOST>` (the host's dots and dashes as `_`, upper case);
4. the login store: `<config dir>/credentials.json` (`$EXTISM_PLATFORM_CONFIG`, else
   `~/.config/extism-platform`), mode 0600, written atomically by `extism-plugin login`. Its entries
   are keyed by registry URL (no credentials in it); the longest URL that is a prefix of the registry's
   wins, so `https://host/a/` and `https://host/b/` can hold different tokens.

Environment variables win over the store, so CI can override a developer's login. A token is sent only to
its registry's origin (`registry_static.fetcher`), never on a redirect to another host; it never reaches
extism.lock, the audit log, errors or tool results (none of them is given the token, only `source`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from plugin_format.errors import RegistryError
from plugin_format.files import atomic_write
from plugin_format.paths import config_dir
from registry_static.fetcher import token_env_name

STORE_NAME = "credentials.json"
STORE_SCHEMA = "extism-platform/credentials@1"


def store_path() -> Path:
    """The login store: `<config dir>/credentials.json`."""
    return config_dir() / STORE_NAME


@dataclass(frozen=True)
class TokenChoice:
    """The token to send (or None) and, for messages, where it came from or where one was looked for."""

    token: str | None = field(default=None, repr=False)
    source: str = ""  # e.g. "$ACME_TOKEN (extism.yaml token_env)"; never the token itself
    missing: str = ""  # what to do when the registry asks for a token and none (or a wrong one) was sent


def _read_store(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"schema": STORE_SCHEMA, "registries": {}}
    except (OSError, ValueError) as exc:
        raise RegistryError(
            f"{path}: unreadable login store ({type(exc).__name__}); remove it and log in again"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("registries"), dict):
        raise RegistryError(f"{path}: not a login store (expected {{'registries': {{URL: {{token: …}}}}}})")
    return doc


def _write_store(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode(), mode=0o600)


def stored_token(url: str, path: Path | None = None) -> tuple[str, str] | None:
    """(token, the URL it was stored for) of the longest stored URL that is a prefix of `url`."""
    entries = _read_store(path or store_path())["registries"]
    best = None
    for key, entry in entries.items():
        if url.startswith(key) and isinstance(entry, dict) and isinstance(entry.get("token"), str):
            if best is None or len(key) > len(best):
                best = key
    return (entries[best]["token"], best) if best else None


def login(url: str, token: str, path: Path | None = None) -> Path:
    """Store `token` for the registry at `url` (a normalized URL without credentials); returns the file."""
    token = token.strip()
    if not token or any(c.isspace() for c in token):
        raise RegistryError("the token is empty or contains whitespace (paste it alone, on one line)")
    path = path or store_path()
    doc = _read_store(path)
    doc["schema"] = STORE_SCHEMA
    doc["registries"][url] = {"token": token}
    _write_store(path, doc)
    return path


def logout(url: str, path: Path | None = None) -> bool:
    """Forget the token stored for `url`; False when there was none."""
    path = path or store_path()
    doc = _read_store(path)
    if doc["registries"].pop(url, None) is None:
        return False
    _write_store(path, doc)
    return True


def logged_in(path: Path | None = None) -> list[str]:
    """The registry URLs the store holds a token for (never the tokens)."""
    return sorted(_read_store(path or store_path())["registries"])


def resolve_token(
    url: str,
    *,
    explicit: str | None = None,
    token_env: str | None = None,
    token_env_label: str = "extism.yaml token_env",
) -> TokenChoice:
    """The token to send to the registry at `url` (see the module docstring for the order).
    `token_env_label` says where the name `token_env` was given, for the messages (e.g.
    `--registry-token-env VAR`)."""
    if urlsplit(url).scheme == "file":
        return TokenChoice(explicit)  # nothing is sent to a directory
    host_env = token_env_name(url)
    if explicit:
        return TokenChoice(explicit, "the token given on the command line", "check the token given")
    unset = ""
    if token_env:
        value = os.environ.get(token_env)
        if value:
            return TokenChoice(value, f"${token_env} ({token_env_label})", f"check ${token_env}")
        unset = f"${token_env} ({token_env_label}) is not set; "
    value = os.environ.get(host_env)
    if value:
        return TokenChoice(value, f"${host_env}", f"{unset}check ${host_env}")
    found = stored_token(url)
    if found:
        return TokenChoice(
            found[0],
            f"the login store ({store_path()})",
            f"{unset}the stored token was refused: `extism-plugin login {found[1]}` again",
        )
    wanted = f"${token_env}" if token_env else f"${host_env}"
    return TokenChoice(None, "", f"{unset}set {wanted} or run `extism-plugin login {url}`")
