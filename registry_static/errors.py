"""Error types of the distribute side. Each message names the file or field at fault and what to do."""

from __future__ import annotations

from hatch_extism.errors import ExtismPlatformError


class RegistryError(ExtismPlatformError):
    """Base of every registry error; the CLI prints it as one line and exits non-zero."""


class RegistryLayoutError(RegistryError):
    """A registry directory or key directory is missing, incomplete or not a registry."""


class PublishError(RegistryError):
    """An artifact cannot be published (unsigned, wrong author, existing version, …)."""


class NotFoundError(RegistryError):
    """The registry has no such plugin or version."""


class TrustError(RegistryError):
    """TUF metadata or an index file failed verification: the registry (or a mirror) cannot be trusted."""


class IntegrityError(RegistryError):
    """A downloaded blob does not match the sha256/size recorded in the signed index file."""


class SignatureError(RegistryError):
    """The author's DSSE signature of an artifact is missing or does not verify."""


class FetchError(RegistryError):
    """A file could not be downloaded (network, HTTP status, permissions)."""
