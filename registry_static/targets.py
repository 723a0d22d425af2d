"""Where `extism-plugin publish` sends a build: which registry (`--registry`, else the project's, else the
user's default) and what kind of place it is.

- a directory (`./registry`, `/srv/registry`, `file:///srv/registry`; made by `extism-registry init`):
  the files are added in place;
- a git remote (`git+https://host/acme/plugins.git`, `git+ssh://…`, `git+file:///…`, `git://…`, or any
  path or `user@host:path` ending `.git`): cloned/fetched into the cache, published there, committed,
  pushed;
- an OCI registry (`oci://host[:port]/repo`): one OCI artifact per version (tag = version) pushed to
  `repo/<scope>/<name>`.

A served URL (`https://plugins.example.com`) or a bare `host:port` is refused with what to pass instead:
a static registry is published to where its files live, not to the web server in front of them.

Defaults, first found wins (a project's setting beats the user's):
1. `--registry` / `--keys`;
2. the project's `pyproject.toml` `[tool.extism-platform.publish]` `registry = "…"`, `keys = "…"` (paths
   relative to the project);
3. the user's `<config dir>/config.yaml` (`~/.config/extism-platform/config.yaml`,
   `$EXTISM_PLATFORM_CONFIG`): `publish: {registry: …, keys: …}` (paths relative to that directory).
The registry's key directory: `--keys`, else `$EXTISM_REGISTRY_KEYS`, else the settings' `keys`, else
`<registry>.keys` beside a directory registry (a git registry needs one of the first three).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import yaml

from plugin_format.errors import RegistryError
from plugin_format.paths import user_config_file
from registry_static.keys import KEYS_ENV
from registry_static.redact import redact_url

Kind = Literal["dir", "git", "oci"]
ACCEPTED = (
    "a registry directory (./registry or file:///srv/registry), a git remote (git+https://host/org/repo.git, "
    "git+ssh://…, git+file:///…, or a path ending .git) or an OCI registry (oci://host[:port]/repo)"
)
_GIT_SCHEMES = ("git+https://", "git+http://", "git+ssh://", "git+file://", "git://")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//).+")  # git@host:org/repo.git
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}(/.*)?$")  # 127.0.0.1:8000, registry.local:5000/x


@dataclass(frozen=True)
class Target:
    """A parsed `--registry`: `location` is what the transport uses (a directory path, the remote URL git
    is given, or `host[:port]/repo` for OCI); `shown` is safe to print (credentials masked)."""

    kind: Kind
    location: str
    shown: str

    @property
    def path(self) -> Path:
        return Path(self.location)


def parse_target(text: str, base: Path | None = None) -> Target:
    """What `--registry TEXT` means (relative paths are taken from `base`, default the current directory)."""
    value = text.strip()
    shown = redact_url(value)
    if not value:
        raise RegistryError(f"--registry is empty; pass {ACCEPTED}")
    lower = value.lower()
    if lower.startswith("oci://"):
        ref = value[len("oci://") :].rstrip("/")
        host, _, repo = ref.partition("/")
        if not host or not repo:
            raise RegistryError(f"--registry {shown}: an OCI registry needs a repository: oci://host[:port]/repo")
        if "@" in repo or ":" in repo:
            raise RegistryError(
                f"--registry {shown}: give the repository without a tag or digest (the version is the tag): "
                f"oci://{host}/{re.split('[:@]', repo)[0]}"
            )
        return Target("oci", f"{host}/{repo}", shown)
    if lower.startswith(_GIT_SCHEMES):
        remote = value[len("git+") :] if lower.startswith("git+") else value
        return Target("git", remote, redact_url(remote))
    if lower.startswith(("http://", "https://")):
        raise RegistryError(
            f"--registry {shown}: that is where a registry is served from, and a web server cannot be published "
            f"to; pass the directory it serves, git+{value} if it is a git remote (GitHub/GitLab Pages), or "
            f"oci://{urlsplit(value).netloc}/REPO for an OCI registry"
        )
    if lower.startswith("file://"):
        return _dir(Path(unquote(urlsplit(value).path)), shown)
    if "://" in value:
        scheme = value.split("://", 1)[0]
        raise RegistryError(f"--registry {shown}: unsupported scheme {scheme}://; pass {ACCEPTED}")
    if _SCP_LIKE.match(value):
        return Target("git", value, shown)
    if _HOST_PORT.match(value) and not Path(value).exists():
        raise RegistryError(
            f"--registry {shown}: looks like host:port; pass oci://{value.split('/')[0]}/REPO for an OCI registry, "
            f"git+https://{value}….git for a git remote, or the registry's directory"
        )
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    if value.rstrip("/").endswith(".git"):
        return Target("git", str(path.resolve()), shown)
    return _dir(path, shown)


def _dir(path: Path, shown: str) -> Target:
    return Target("dir", str(path.resolve()), shown)


@dataclass(frozen=True)
class PublishSettings:
    """The target and key directory `publish` uses, and where each came from (for messages)."""

    target: Target
    keys: Path | None
    source: str  # "--registry", "<project>/pyproject.toml" or "<config dir>/config.yaml"


def _project_settings(project_dir: Path) -> tuple[dict[str, Any], Path] | None:
    path = project_dir / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(f"{path}: {exc}") from None
    table = doc.get("tool", {}).get("extism-platform", {}).get("publish")
    return (_check_table(table, f"{path} [tool.extism-platform.publish]"), path) if table is not None else None


def _user_settings() -> tuple[dict[str, Any], Path] | None:
    path = user_config_file()
    if not path.is_file():
        return None
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"{path}: not readable YAML ({exc})") from None
    if not isinstance(doc, Mapping):
        raise RegistryError(f"{path}: expected a mapping, e.g. publish: {{registry: ./registry}}")
    table = doc.get("publish")
    return (_check_table(table, f"{path}: publish"), path) if table is not None else None


def _check_table(table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise RegistryError(f"{where}: expected a mapping with registry (and keys)")
    unknown = sorted(set(table) - {"registry", "keys"})
    if unknown:
        raise RegistryError(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: registry, keys)")
    for key in ("registry", "keys"):
        if key in table and not (isinstance(table[key], str) and table[key].strip()):
            raise RegistryError(f"{where}.{key}: expected a string")
    return dict(table)


def publish_settings(registry: str | None, keys: str | None, project_dir: Path) -> PublishSettings:
    """Resolve `--registry`/`--keys` against the project's and the user's settings (see the module doc)."""
    found = [s for s in (_project_settings(project_dir), _user_settings()) if s is not None]
    if registry:
        target, source = parse_target(registry), "--registry"
    else:
        hit = next(((t, p) for t, p in found if "registry" in t), None)
        if hit is None:
            raise RegistryError(
                "no registry to publish to: pass --registry (" + ACCEPTED + "), or set a default in "
                f'{project_dir / "pyproject.toml"} ([tool.extism-platform.publish] registry = "…") or in '
                f"{user_config_file()} (publish: {{registry: …}})"
            )
        table, path = hit
        try:
            target = parse_target(table["registry"], path.parent)
        except RegistryError as exc:
            raise RegistryError(f"{path}: {exc}") from None
        source = str(path)
    key_dir: Path | None = None
    if keys:
        key_dir = Path(keys).expanduser()
    elif os.environ.get(KEYS_ENV):
        key_dir = Path(os.environ[KEYS_ENV]).expanduser()
    else:
        hit = next(((t, p) for t, p in found if "keys" in t), None)
        if hit is not None:
            key_dir = (hit[1].parent / Path(hit[0]["keys"]).expanduser()).resolve()
    return PublishSettings(target, key_dir, source)


def publish_to(
    settings: PublishSettings, wasm: Path, *, readme: Path | None = None, site: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Publish one build (`wasm` and the `.plugin.json`/`.sig` beside it) to `settings.target`: the JSON
    document `--json` prints and the lines to show otherwise."""
    target = settings.target
    if target.kind == "oci":
        from registry_static.oci import push_plugin

        pushed = push_plugin(target.location, wasm)
        doc = {"target": "oci", "registry": target.shown, "published": [pushed.to_dict()], "site": None}
        return doc, [f"published {pushed.name}@{pushed.version} to {pushed.reference} (digest {pushed.digest})"]
    if target.kind == "git":
        from registry_static.git_publish import publish_to_git

        res = publish_to_git(target.location, [wasm], keys=settings.keys, readme=readme, site=site)
        doc = {"target": "git", "registry": res.remote, **res.to_dict()}
        tries = f", after {res.attempts} tries" if res.attempts > 1 else ""
        return doc, [
            f"published {p.name}@{p.version} to {res.remote} ({res.branch} {res.commit[:12]}{tries}; "
            f"signed by {p.key_id[:16]})"
            for p in res.published
        ]
    from registry_static.repository import Repository

    repo = Repository(target.path, settings.keys)
    published = repo.publish([wasm], readme=readme)
    site_doc = None
    if site:
        from registry_static.site import build_site

        site_doc = build_site(repo.dir)
    doc = {"target": "dir", "registry": str(repo.dir), "published": [p.to_dict() for p in published], "site": site_doc}
    return doc, [f"published {p.name}@{p.version} to {repo.dir} (signed by {p.key_id[:16]})" for p in published]
