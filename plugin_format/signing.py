"""Ed25519 keys and DSSE envelopes for build artifacts.

The signature is over a small statement — {name, version, wasm sha256, plugin.json sha256} — so
verifying it pins both files. The envelope follows DSSE (payloadType, base64 payload, signatures
over the pre-authentication encoding), which keeps it readable by standard tooling.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugin_format.errors import SigningError
from plugin_format.files import atomic_write
from plugin_format.paths import default_signing_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# `cryptography` is imported by the functions that use a key: checking an unsigned build's
# envelope (or listing tools) needs none of it.

PAYLOAD_TYPE = "application/vnd.extism-platform.statement+json"
STATEMENT_TYPE = "extism-platform/statement@1"
KEY_ENV = "EXTISM_SIGNING_KEY"
PASSPHRASE_ENV = "EXTISM_SIGNING_KEY_PASSPHRASE"
UNSIGNED_ENV = "EXTISM_UNSIGNED"


def unsigned_by_env() -> bool:
    """`EXTISM_UNSIGNED=1` (or true/yes): build unsigned on purpose, for every build command."""
    return os.environ.get(UNSIGNED_ENV, "").strip().lower() in ("1", "true", "yes")


def find_signing_key(
    explicit: str | Path | None, *, unsigned: bool = False, explicit_option: str = "--key"
) -> Ed25519PrivateKey | None:
    """The one lookup every build uses (`hatch build`, `extism-plugin build`): unsigned when asked
    (`unsigned` or $EXTISM_UNSIGNED), else `explicit`, else $EXTISM_SIGNING_KEY (a path or the PEM),
    else the key `extism-plugin keygen` wrote (`default_signing_key()`)."""
    if unsigned or unsigned_by_env():
        return None
    default = default_signing_key()
    source: str | Path | None = explicit or os.environ.get(KEY_ENV) or (default if default.is_file() else None)
    if source is None:
        raise SigningError(
            f"no signing key: give {explicit_option}, set ${KEY_ENV} (a path or the PEM), or create "
            f"{default} with `extism-plugin keygen`; to build unsigned on purpose: --unsigned, "
            f"`unsigned = true` under [tool.hatch.build.hooks.extism], or {UNSIGNED_ENV}=1"
        )
    return load_private_key(source)


TRUSTED_KEYS_ENV = "EXTISM_TRUSTED_KEYS"


def public_key_path(private_path: Path) -> Path:
    """Where the public half of a key file lives: `<private>.pub` (as `keygen` writes it)."""
    return private_path.with_name(private_path.name + ".pub")


def _is_pem_text(source: str) -> bool:
    """A key source that is the PEM itself, not a path to one."""
    return "-----BEGIN" in source


def known_public_keys() -> list[Ed25519PublicKey]:
    """The public keys this machine knows without being told: the signing key's `.pub` (the
    default key, or $EXTISM_SIGNING_KEY's when it is a path) and every `*.pub` in
    $EXTISM_TRUSTED_KEYS (directories or files, `:`-separated). A signature is only ever
    called valid after it verified against one of these or a key given explicitly."""
    candidates: list[Path] = [public_key_path(default_signing_key())]
    env_key = os.environ.get(KEY_ENV, "")
    if env_key and not _is_pem_text(env_key):
        candidates.append(public_key_path(Path(env_key)))
    for item in filter(None, os.environ.get(TRUSTED_KEYS_ENV, "").split(os.pathsep)):
        path = Path(item).expanduser()
        candidates.extend(sorted(path.glob("*.pub")) if path.is_dir() else [path])
    out = []
    for path in candidates:
        if path.is_file():
            try:
                out.append(load_public_key(path))
            except SigningError:
                continue  # not a key: it simply verifies nothing
    return out


def key_id(public: Ed25519PublicKey) -> str:
    """sha256 of the raw 32-byte public key, hex: stable, and the same everywhere it is shown."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def generate_keypair(private_path: Path, passphrase: bytes | None = None, *, overwrite: bool = False) -> str:
    """Write `private_path` (PKCS#8 PEM, mode 0600, encrypted when a passphrase is given) and
    `<private_path>.pub`; return the key id."""
    pub_path = public_key_path(private_path)
    if not overwrite:
        for p in (private_path, pub_path):
            if p.exists():
                raise SigningError(f"{p}: already exists (refusing to overwrite a key; pass --force to replace it)")
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    key = Ed25519PrivateKey.generate()
    enc = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    atomic_write(private_path, pem, mode=0o600)
    atomic_write(pub_path, public_pem(key.public_key()).encode(), mode=0o644)
    return key_id(key.public_key())


def _pem(source: str | Path, what: str) -> tuple[bytes, str]:
    """A key's PEM bytes from a path or from the PEM text itself, and how to name it in errors."""
    text = str(source)
    if _is_pem_text(text):
        return text.encode(), f"the {what} given as PEM text"
    path = Path(text).expanduser()
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise SigningError(f"{what} {path}: {exc.strerror}") from None


def load_private_key(source: str | Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """`source` is a path to a PEM file or the PEM text itself."""
    data, where = _pem(source, "signing key")
    if passphrase is None and os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV].encode()
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        raise SigningError(f"{where}: the key is encrypted; set {PASSPHRASE_ENV}") from None
    except ValueError as exc:
        raise SigningError(f"{where}: not a usable private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{where}: not an Ed25519 key (`extism-plugin keygen` makes one)")
    return key


def load_public_key(source: str | Path) -> Ed25519PublicKey:
    """`source` is a path to a PEM file or the PEM text itself."""
    data, where = _pem(source, "public key")
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: PLC0415

    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise SigningError(f"{where}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{where}: not an Ed25519 public key")
    return key


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what the signature actually covers."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def statement(name: str, version: str, wasm_sha256: str, plugin_json_sha256: str) -> dict[str, str]:
    return {
        "_type": STATEMENT_TYPE,
        "name": name,
        "version": version,
        "wasm_sha256": wasm_sha256,
        "plugin_json_sha256": plugin_json_sha256,
    }


def sign_statement(stmt: dict[str, str], key: Ed25519PrivateKey) -> dict[str, Any]:
    payload = json.dumps(stmt, sort_keys=True, separators=(",", ":")).encode()
    sig = key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(sig).decode()}],
    }


def unsigned_envelope(stmt: dict[str, str]) -> dict[str, Any]:
    """An envelope with no signatures: the artifact says plainly that it is unsigned."""
    payload = json.dumps(stmt, sort_keys=True, separators=(",", ":")).encode()
    return {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(), "signatures": []}


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: list[dict[str, str]]

    @property
    def statement(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.payload)
        except ValueError:
            raise SigningError("signature envelope: the payload is not JSON") from None
        if not isinstance(doc, dict) or doc.get("_type") != STATEMENT_TYPE:
            raise SigningError(f"signature envelope: the payload is not an {STATEMENT_TYPE} statement")
        return doc

    @property
    def key_ids(self) -> list[str]:
        return [s.get("keyid", "") for s in self.signatures]

    def verify(self, public: Ed25519PublicKey) -> bool:
        """True when one signature is by `public` and verifies."""
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415

        kid = key_id(public)
        for s in self.signatures:
            if s.get("keyid") != kid:
                continue
            try:
                public.verify(base64.b64decode(s["sig"], validate=True), pae(self.payload_type, self.payload))
                return True
            except (InvalidSignature, ValueError, KeyError):
                return False
        return False


def parse_envelope(data: bytes, where: str = "signature") -> Envelope:
    try:
        doc = json.loads(data)
        if doc["payloadType"] != PAYLOAD_TYPE:
            raise SigningError(f"{where}: payloadType is {doc['payloadType']!r}, expected {PAYLOAD_TYPE!r}")
        payload = base64.b64decode(doc["payload"], validate=True)
        sigs = doc["signatures"]
        if not isinstance(sigs, list) or not all(isinstance(s, dict) for s in sigs):
            raise ValueError("signatures")
    except SigningError:
        raise
    except (ValueError, KeyError, TypeError):
        raise SigningError(f"{where}: not a DSSE envelope (payloadType, payload, signatures)") from None
    return Envelope(doc["payloadType"], payload, sigs)
