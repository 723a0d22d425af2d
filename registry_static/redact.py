"""Secrets in registry URLs: taken out once, never stored or shown.

A registry URL may carry credentials (`https://user:PASSWORD@host/`) or a token in its query. They are
split off where a URL enters (extism.yaml, `--registry`, `RegistryClient`): the client keeps the bare URL
(what extism.lock records, what errors and outputs name) and sends the credentials as an Authorization
header to that origin only. `redact_url` / `redact_text` are the one way anything else shows a URL.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
# userinfo of any scheme://user[:password]@ in free text (error messages, tool results, audit fields)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s@]*)@")
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&](?:[A-Za-z0-9_.-]*(?:token|key|secret|password|passwd|pwd|auth|sig|signature|credential)"
    r"[A-Za-z0-9_.-]*)=)(?P<value>[^&#\s]*)",
    re.IGNORECASE,
)


def redact_text(text: str) -> str:
    """`text` with every URL's user/password and secret-looking query values replaced by `***`."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", str(text))
    return _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", text)


def redact_url(url: str) -> str:
    """A URL fit to show or store: no user or password, no secret query values."""
    return redact_text(url)


def split_credentials(url: str) -> tuple[str, str | None]:
    """(`url` without its userinfo, the `Authorization` header value those credentials make, or None)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    bare = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    if not user and not password:
        return bare, None
    pair = f"{unquote(user)}:{unquote(password)}".encode()
    return bare, "Basic " + base64.b64encode(pair).decode("ascii")
