"""The registry's private keys: one PEM file per TUF role in a key directory kept OUT of the served tree.

```
KEYS/root.pem         offline: needed by `init` and `keys rotate`
KEYS/targets.pem      offline: needed by `keys add-scope` and rotating a scope key
KEYS/snapshot.pem     online:  every publish / yank / refresh
KEYS/timestamp.pem    online:  every publish / yank / refresh
KEYS/scope-<s>.pem    the scope's key: publish, yank, authors of that scope (unscoped.pem for unscoped)
```
Files are PKCS#8 PEM, mode 0600, encrypted when `EXTISM_REGISTRY_KEY_PASSPHRASE` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, SSlibKey

from plugin_format.errors import RegistryLayoutError
from plugin_format.files import atomic_write

PASSPHRASE_ENV = "EXTISM_REGISTRY_KEY_PASSPHRASE"
KEYS_ENV = "EXTISM_REGISTRY_KEYS"


def default_key_dir(registry: Path) -> Path:
    """`$EXTISM_REGISTRY_KEYS`, else `<registry>.keys` beside (never inside) the served directory."""
    env = os.environ.get(KEYS_ENV)
    if env:
        return Path(env).expanduser()
    registry = registry.resolve()
    return registry.with_name(registry.name + ".keys")


def _passphrase() -> bytes | None:
    p = os.environ.get(PASSPHRASE_ENV)
    return p.encode() if p else None


class KeyStore:
    """Reads and writes role keys in one directory."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def path(self, role: str) -> Path:
        return self.dir / f"{role}.pem"

    def has(self, role: str) -> bool:
        return self.path(role).is_file()

    def generate(self, role: str, *, overwrite: bool = False) -> CryptoSigner:
        """Create a new Ed25519 key for `role`; an existing one is archived when `overwrite`."""
        path = self.path(role)
        if path.exists():
            if not overwrite:
                raise RegistryLayoutError(f"{path}: a key for role {role!r} already exists (refusing to overwrite)")
            n = 1
            while (old := self.dir / f"{role}.pem.old{n}").exists():
                n += 1
            os.replace(path, old)
        key = Ed25519PrivateKey.generate()
        pw = _passphrase()
        enc = serialization.BestAvailableEncryption(pw) if pw else serialization.NoEncryption()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        atomic_write(path, pem, mode=0o600)
        return CryptoSigner(key)

    def generate_pending(self, role: str) -> CryptoSigner:
        """A new key for `role` saved as `<role>.pem.new`: it replaces the current key only on `promote`,
        so a rotation that fails half-way leaves the key directory as it was."""
        key = Ed25519PrivateKey.generate()
        pw = _passphrase()
        enc = serialization.BestAvailableEncryption(pw) if pw else serialization.NoEncryption()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.dir / f"{role}.pem.new", pem, mode=0o600)
        return CryptoSigner(key)

    def promote(self, role: str) -> None:
        """Archive `<role>.pem` as `<role>.pem.oldN` and put `<role>.pem.new` in its place."""
        path = self.path(role)
        if path.exists():
            n = 1
            while (old := self.dir / f"{role}.pem.old{n}").exists():
                n += 1
            os.replace(path, old)
        os.replace(self.dir / f"{role}.pem.new", path)

    def discard(self, role: str) -> None:
        (self.dir / f"{role}.pem.new").unlink(missing_ok=True)

    def signer(self, role: str, *, purpose: str = "") -> CryptoSigner:
        """Load the signer of `role`; the error says which file is missing and why it is needed."""
        path = self.path(role)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            why = f" to {purpose}" if purpose else ""
            raise RegistryLayoutError(
                f"{path}: the key of role {role!r} is needed{why}; bring it from where it is kept offline "
                f"(or pass --keys / set {KEYS_ENV})"
            ) from None
        except OSError as exc:
            raise RegistryLayoutError(f"{path}: {exc.strerror}") from None
        try:
            key = serialization.load_pem_private_key(data, password=_passphrase())
        except TypeError:
            raise RegistryLayoutError(f"{path}: the key is encrypted; set {PASSPHRASE_ENV}") from None
        except ValueError as exc:
            raise RegistryLayoutError(f"{path}: not a usable private key ({exc})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise RegistryLayoutError(f"{path}: not an Ed25519 key")
        return CryptoSigner(key)

    @staticmethod
    def public(signer: CryptoSigner) -> SSlibKey:
        return signer.public_key
