"""Plugins as OCI artifacts: push to and pull from any OCI distribution registry (ghcr.io, Docker
Hub, Harbor, the CNCF `distribution` registry), through the maintained `oras` client.

One artifact per version, tag = the version (`+` of build metadata written `_`, as OCI tags allow):

    manifest  application/vnd.oci.image.manifest.v1+json
      artifactType  application/vnd.extism-platform.plugin.v1+json
      config        application/vnd.oci.empty.v1+json ({})
      layers        application/vnd.extism-platform.wasm.v1+wasm         <name>-<version>.wasm
                    application/vnd.extism-platform.plugin-json.v1+json  <name>-<version>.plugin.json
                    application/vnd.extism-platform.signature.v1+json    <name>-<version>.sig (DSSE)
      annotations   org.opencontainers.image.title/version/created, org.extism-platform.plugin.name

`oci://host[:port]/prefix` publishes `@acme/weather` to the repository `prefix/acme/weather`;
`oci://host/repo:TAG` or `oci://host/repo@sha256:DIGEST` names one artifact to pull.

What is checked on pull: the manifest's bytes against the digest when one is given (else the digest is
computed and recorded in extism.lock), every layer's sha256 and size against the manifest, and the DSSE
signature against a key the user trusts (`--trust-key`, `$EXTISM_TRUSTED_KEYS`, the own signing key).
What is not: an OCI registry has no TUF metadata, so a tag can be moved, deleted or held back (rollback
and freeze are not detected; pin a digest, which extism.lock does) and there is no scope policy saying
which author may publish which name: any key you trust is accepted for any name.

`oras` 0.2 has no `artifactType` in `push()`, so the manifest is built here and sent with its
`upload_manifest`; and `get_manifest` returns parsed JSON, so manifests are read with its `do_request`
to get the exact bytes a digest is computed over. Everything else is `oras`'s own calls.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from plugin_format import names, signing
from plugin_format.artifact import sha256_hex, verify_bytes
from plugin_format.errors import ExtismPlatformError, FetchError, IntegrityError, PublishError, RegistryError
from plugin_format.semver import Version
from registry_static.redact import redact_text

ARTIFACT_TYPE = "application/vnd.extism-platform.plugin.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
EMPTY_CONFIG_TYPE = "application/vnd.oci.empty.v1+json"
LAYER_TYPES = {
    "wasm": "application/vnd.extism-platform.wasm.v1+wasm",
    "plugin_json": "application/vnd.extism-platform.plugin-json.v1+json",
    "sig": "application/vnd.extism-platform.signature.v1+json",
}
SUFFIXES = {"wasm": ".wasm", "plugin_json": ".plugin.json", "sig": ".sig"}
NAME_ANNOTATION = "org.extism-platform.plugin.name"
MANIFEST_MAX = 1 << 20
LAYER_MAX = 256 << 20
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class OciRef:
    """`oci://host[:port]/repo[:tag|@sha256:…]` parsed; `reference` is the tag or digest (or None)."""

    host: str
    repository: str
    reference: str | None = None

    @classmethod
    def parse(cls, text: str) -> OciRef:
        if not text.lower().startswith("oci://"):
            raise RegistryError(f"{redact_text(text)}: not an OCI reference (oci://host[:port]/repo:TAG)")
        rest = text[len("oci://") :]
        host, _, path = rest.partition("/")
        reference = None
        if "@" in path:
            path, _, reference = path.partition("@")
            if not _DIGEST.fullmatch(reference):
                raise RegistryError(f"{redact_text(text)}: a digest is sha256:<64 lowercase hex digits>")
        elif ":" in path.rsplit("/", 1)[-1]:
            path, _, reference = path.rpartition(":")
            if not _TAG.fullmatch(reference):
                raise RegistryError(f"{redact_text(text)}: {reference!r} is not an OCI tag")
        path = path.strip("/")
        if not host or "@" in host or not path or not re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*", path):
            raise RegistryError(
                f"{redact_text(text)}: expected oci://host[:port]/repo[:tag|@sha256:digest] (a lowercase repository "
                "path; credentials go in the registry's login, not the URL)"
            )
        return cls(host, path, reference)

    @property
    def insecure(self) -> bool:
        """Plain http only to this machine (a loopback registry); TLS everywhere else."""
        hostname = self.host.rsplit(":", 1)[0].strip("[]") if not self.host.endswith("]") else self.host.strip("[]")
        if hostname == "localhost":
            return True
        try:
            return ipaddress.ip_address(hostname).is_loopback
        except ValueError:
            return False

    @property
    def container(self) -> str:
        return f"{self.host}/{self.repository}" + (
            "" if self.reference is None else ("@" if self.reference.startswith("sha256:") else ":") + self.reference
        )

    def with_reference(self, reference: str) -> OciRef:
        return OciRef(self.host, self.repository, reference)

    def __str__(self) -> str:
        return "oci://" + self.container


def version_tag(version: str) -> str:
    """The OCI tag of a version (`1.2.0+build.5` → `1.2.0_build.5`: tags have no `+`)."""
    return version.replace("+", "_")


def plugin_repository(prefix: str, name: str) -> str:
    """Where `oci://host/<prefix>` keeps `name`: `@acme/weather` → `<prefix>/acme/weather`."""
    scope, bare = names.split(name)
    return "/".join(p for p in (prefix.strip("/"), scope, bare) if p)


#: seconds to connect, and to wait for each read; `requests` (under oras) has no default, so a
#: registry that accepts and never answers would hang the command
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 5.0, 60.0
#: tries of one request when the registry cannot be reached or answers 5xx, and the waits between
#: them (oras's own retry sleeps 2 + 3**n seconds five times: over two minutes against a registry
#: that is down, with no word said)
RETRY_WAITS_S = (0.5, 1.5)
_RETRY_STATUS = frozenset({500, 502, 503, 504})


def _client(ref: OciRef) -> Any:
    import functools  # noqa: PLC0415

    import oras.provider  # lazy: only OCI sources need it
    import requests  # noqa: PLC0415 - oras's HTTP client

    class Registry(oras.provider.Registry):  # type: ignore[misc]
        """oras's client with timeouts on every request and a short, bounded retry."""

        def do_request(self, *args: Any, **kwargs: Any) -> Any:
            once = oras.provider.Registry.do_request.__wrapped__  # without oras's retry decorator
            for wait in RETRY_WAITS_S:
                try:
                    response = once(self, *args, **kwargs)
                except (requests.ConnectionError, requests.Timeout):
                    pass
                else:
                    if response.status_code not in _RETRY_STATUS:
                        return response
                time.sleep(wait)
            return once(self, *args, **kwargs)  # the last try: its answer or its error

    client = Registry(hostname=ref.host, insecure=ref.insecure)
    client.session.request = functools.partial(client.session.request, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
    return client


def _fail(ref: OciRef, what: str, exc: BaseException) -> RegistryError:
    text = redact_text(str(exc)) or type(exc).__name__
    return FetchError(f"{ref}: {what}: {text}")


def _read(response: Any, limit: int, what: str) -> bytes:
    out = bytearray()
    for chunk in response.iter_content(chunk_size=65536):
        out += chunk
        if len(out) > limit:
            raise IntegrityError(f"{what}: larger than the {limit} bytes it may be")
    return bytes(out)


# ---------------------------------------------------------------- push


@dataclass(frozen=True)
class OciPublished:
    name: str
    version: str
    reference: str  # oci://host/repo:tag
    digest: str  # the manifest's
    wasm_sha256: str
    key_id: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def push_plugin(prefix_ref: str, wasm_path: Path, *, keys: Iterable[Ed25519PublicKey] = ()) -> OciPublished:
    """Push the build next to `wasm_path` (its `.plugin.json` and `.sig`) as one artifact. The signature
    must be present and valid (against `keys` when given); an existing tag is never overwritten."""
    from plugin_format.artifact import artifact_paths

    target = OciRef.parse(prefix_ref if prefix_ref.startswith("oci://") else "oci://" + prefix_ref)
    stem = wasm_path.name[: -len(".wasm")]
    paths = dict(zip(("wasm", "plugin_json", "sig"), artifact_paths(wasm_path.parent, stem), strict=True))
    try:
        data = {k: p.read_bytes() for k, p in paths.items()}
    except OSError as exc:
        raise PublishError(f"{exc.filename}: {exc.strerror} (build it with `extism-plugin build`)") from None
    where = str(wasm_path.parent / stem)
    try:
        verified = verify_bytes(
            data["wasm"], data["plugin_json"], data["sig"], keys=list(keys), require_signature=True, where=where
        )
    except ExtismPlatformError as exc:
        raise PublishError(f"{exc}; refusing to push it") from None
    key_id = signing.parse_envelope(data["sig"]).key_ids[0]
    ref = OciRef(target.host, plugin_repository(target.repository, verified.name), version_tag(verified.version))
    reg = _client(ref)
    container = reg.get_container(ref.container)
    reg.auth.load_configs(container)  # logins of `oras login` / `docker login` (~/.docker/config.json)
    existing = _manifest_or_none(reg, ref)
    if existing is not None:
        raise PublishError(
            f"{ref}: {verified.name} {verified.version} is already published there (a version is never "
            "replaced; bump the version)"
        )
    import oras.oci

    with tempfile.TemporaryDirectory(prefix="extism-oci-") as tmp:
        layers = []
        for kind, payload in data.items():
            f = Path(tmp) / (stem + SUFFIXES[kind])
            f.write_bytes(payload)
            layer = oras.oci.NewLayer(str(f), media_type=LAYER_TYPES[kind])
            layer["annotations"] = {"org.opencontainers.image.title": f.name}
            _check(reg.upload_blob(str(f), container, layer), ref, f"upload {f.name}")
            layers.append(layer)
        empty = Path(tmp) / "config.json"
        empty.write_bytes(b"{}")
        config = {"mediaType": EMPTY_CONFIG_TYPE, "digest": "sha256:" + sha256_hex(b"{}"), "size": 2}
        _check(reg.upload_blob(str(empty), container, config), ref, "upload the config")
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": config,
        "layers": layers,
        "annotations": {
            "org.opencontainers.image.title": verified.name,
            "org.opencontainers.image.version": verified.version,
            "org.opencontainers.image.created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "org.opencontainers.image.description": str(verified.manifest.get("description", ""))[:500],
            NAME_ANNOTATION: verified.name,
        },
    }
    response = reg.upload_manifest(manifest, container)
    _check(response, ref, "upload the manifest")
    body = response.request.body
    digest = (
        response.headers.get("Docker-Content-Digest")
        or "sha256:" + hashlib.sha256(body if isinstance(body, bytes) else str(body).encode()).hexdigest()
    )
    return OciPublished(verified.name, verified.version, str(ref), digest, verified.wasm_sha256, key_id)


def _check(response: Any, ref: OciRef, what: str) -> None:
    if response.status_code not in (200, 201, 202):
        detail = redact_text(response.text[:300]) if getattr(response, "text", "") else ""
        hint = (
            " (the registry wants a login: `oras login` or a Docker config.json)"
            if response.status_code
            in (
                401,
                403,
            )
            else ""
        )
        raise PublishError(f"{ref}: {what}: HTTP {response.status_code} {detail}{hint}".rstrip())


def _manifest_or_none(reg: Any, ref: OciRef) -> bytes | None:
    try:
        return _manifest_bytes(reg, ref)
    except FileNotFoundError:
        return None


def _manifest_bytes(reg: Any, ref: OciRef) -> bytes:
    url = f"{reg.prefix}://{reg.get_container(ref.container).manifest_url()}"
    try:
        response = reg.do_request(url, "GET", headers={"Accept": MANIFEST_TYPE}, stream=True)
    except Exception as exc:  # requests' and oras's own errors alike: one line naming the reference
        raise _fail(ref, "cannot reach the registry", exc) from None
    with response:
        if response.status_code == 404:
            raise FileNotFoundError(str(ref))
        if response.status_code in (401, 403):
            raise FetchError(f"{ref}: HTTP {response.status_code}: the registry wants a login")
        if response.status_code != 200:
            raise FetchError(f"{ref}: HTTP {response.status_code} for the manifest")
        return _read(response, MANIFEST_MAX, f"{ref} manifest")


# ---------------------------------------------------------------- pull


@dataclass(frozen=True)
class OciPulled:
    """A verified artifact: the three files, the manifest digest it was pulled at, the key that signed it."""

    ref: OciRef  # with the digest as reference
    name: str
    version: str
    wasm: bytes
    plugin_json: bytes
    sig: bytes
    manifest: dict[str, Any]
    key: Ed25519PublicKey
    key_id: str

    @property
    def pinned(self) -> str:
        """`oci://host/repo@sha256:…`: what extism.lock records."""
        return str(self.ref)


def pull_plugin(text: str, *, keys: list[Ed25519PublicKey] | None = None) -> OciPulled:
    """Pull `oci://host/repo:tag` (or `@sha256:…`) and verify it; nothing is trusted before every
    check passed. `keys`: the trusted author keys (default: the keys this machine knows)."""
    ref = OciRef.parse(text)
    if ref.reference is None:
        raise RegistryError(f"{ref}: name a version: {ref}:1.2.0 or {ref}@sha256:DIGEST")
    reg = _client(ref)
    reg.auth.load_configs(reg.get_container(ref.container))
    try:
        raw = _manifest_bytes(reg, ref)
    except FileNotFoundError:
        raise FetchError(f"{ref}: no such artifact (wrong repository, tag or digest?)") from None
    digest = "sha256:" + sha256_hex(raw)
    if ref.reference.startswith("sha256:") and digest != ref.reference:
        raise IntegrityError(f"{ref}: the registry sent a manifest whose digest is {digest} (tampered)")
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise IntegrityError(f"{ref}: the manifest is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("artifactType") != ARTIFACT_TYPE:
        got = manifest.get("artifactType") if isinstance(manifest, dict) else None
        raise RegistryError(f"{ref}: not an Extism plugin artifact (artifactType {got!r}, want {ARTIFACT_TYPE})")
    layers: dict[str, dict[str, Any]] = {}
    for layer in manifest.get("layers") or []:
        kind = next(
            (k for k, mt in LAYER_TYPES.items() if isinstance(layer, dict) and layer.get("mediaType") == mt), None
        )
        if kind is None or kind in layers:
            raise IntegrityError(
                f"{ref}: unexpected layer {layer.get('mediaType') if isinstance(layer, dict) else layer!r}"
            )
        layers[kind] = layer
    missing = sorted(set(LAYER_TYPES) - set(layers))
    if missing:
        raise IntegrityError(f"{ref}: the artifact has no {', '.join(missing)} layer")
    container = reg.get_container(ref.container)
    data: dict[str, bytes] = {}
    for kind, layer in layers.items():
        want, size = str(layer.get("digest", "")), layer.get("size")
        if not _DIGEST.fullmatch(want) or not isinstance(size, int) or not 0 <= size <= LAYER_MAX:
            raise IntegrityError(f"{ref}: layer {kind} has a bad digest or size")
        try:
            response = reg.get_blob(container, want, stream=True)
        except Exception as exc:  # requests' and oras's own errors alike
            raise _fail(ref, f"download the {kind} layer", exc) from None
        with response:
            if response.status_code != 200:
                raise FetchError(f"{ref}: HTTP {response.status_code} for the {kind} layer {want[:19]}…")
            blob = _read(response, size, f"{ref} {kind} layer")
        if len(blob) != size or "sha256:" + sha256_hex(blob) != want:
            raise IntegrityError(
                f"{ref}: the {kind} layer does not match its digest {want[:19]}… in the manifest (tampered); "
                "nothing was used"
            )
        data[kind] = blob
    trusted = list(keys) if keys else signing.known_public_keys()
    if not trusted:
        raise RegistryError(
            f"{ref}: no trusted author key to check its signature with (an OCI registry vouches for no key): "
            "pass --trust-key AUTHOR.pem.pub or set $EXTISM_TRUSTED_KEYS"
        )
    where = f"{ref}"
    try:
        verified = verify_bytes(data["wasm"], data["plugin_json"], data["sig"], keys=trusted, where=where)
    except ExtismPlatformError as exc:
        raise IntegrityError(str(exc)) from None
    envelope = signing.parse_envelope(data["sig"])
    key = next(k for k in trusted if signing.key_id(k) in envelope.key_ids and envelope.verify(k))
    annotated = (manifest.get("annotations") or {}).get(NAME_ANNOTATION)
    if annotated not in (None, verified.name):
        raise IntegrityError(f"{ref}: labelled {annotated} but signed as {verified.name}")
    if not ref.reference.startswith("sha256:"):
        try:
            tag_version = Version.parse(ref.reference.replace("_", "+"))
        except ExtismPlatformError:
            tag_version = None
        if tag_version is not None and tag_version != Version.parse(verified.version):
            raise IntegrityError(f"{ref}: the tag says {tag_version} but the artifact is signed as {verified.version}")
    return OciPulled(
        ref.with_reference(digest),
        verified.name,
        verified.version,
        data["wasm"],
        data["plugin_json"],
        data["sig"],
        verified.manifest,
        key,
        signing.key_id(key),
    )
