"""Recognise private keys, so that nothing that is one gets published.

A plugin.yaml `readme:` pointing at a key file published the registry's offline targets key as a
README (issue 15, item 3). Publishing refuses any file this module recognises; paths are also
confined to the project (`manifest.confined_path`), but a key can sit inside a project too.
"""

from __future__ import annotations

import json
import re

from cryptography.hazmat.primitives import serialization

_PEM_PRIVATE = re.compile(rb"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----")
_OPENSSH = b"openssh-key-v1\x00"


def private_key_kind(data: bytes) -> str | None:
    """What kind of private key `data` is or contains ("PEM RSA PRIVATE KEY", "DER private key",
    "OpenSSH private key", "JSON private key"), or None. Cheap: a README is not parsed as
    anything else."""
    m = _PEM_PRIVATE.search(data)
    if m:
        return f"PEM {m.group(1).decode()}PRIVATE KEY".replace("  ", " ")
    if _OPENSSH in data[:64]:
        return "OpenSSH private key"
    if data[:1] == b"\x30" and len(data) < 16384:  # a DER SEQUENCE: try it as a key
        try:
            serialization.load_der_private_key(data, password=None)
            return "DER private key"
        except TypeError:
            return "DER private key (encrypted)"
        except ValueError:
            pass
    if data[:1] in (b"{", b"[") and len(data) < 1 << 20:
        try:
            doc = json.loads(data)
        except ValueError:
            return None
        if _has_private_json(doc, 0):
            return "JSON private key"
    return None


def _has_private_json(doc: object, depth: int) -> bool:
    """securesystemslib/TUF (`keyval.private`) and JWK (`d`) private keys."""
    if depth > 8:
        return False
    if isinstance(doc, dict):
        keyval = doc.get("keyval")
        if isinstance(keyval, dict) and keyval.get("private"):
            return True
        if doc.get("kty") and doc.get("d"):
            return True
        return any(_has_private_json(v, depth + 1) for v in doc.values())
    if isinstance(doc, list):
        return any(_has_private_json(v, depth + 1) for v in doc[:64])
    return False
