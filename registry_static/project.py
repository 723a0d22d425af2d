"""`extism.yaml` — what a project wants: registries, plugins with version ranges, grants.

```yaml
registries:
  default: https://plugins.example.com          # or file:///srv/registry, or a path relative to this file
  acme: {url: https://acme.example/plugins, token_env: ACME_TOKEN, root_sha256: 3f1c…}
plugins:
  "@acme/weather": "^1.2"
  "@acme/units": {version: "~0.3", registry: acme}
  "@acme/beta": {version: "^2", prerelease: true}   # pre-releases match too (npm's includePrerelease)
  "@acme/clock": "oci://ghcr.io/acme/clock:1.0.0"  # an OCI artifact (a tag, or @sha256:DIGEST)
grants:                                         # checked by the run side (extism_platform.grants)
  "@acme/weather": {hosts: [api.weather.example], config: {api_key: "${WEATHER_KEY}"}}
allow: ["@acme/*"]                              # what an agent may enable (extism-mcp-server --registry)
resolve: {api.weather.example: "http://127.0.0.1:8123"}   # development stand-ins (as --resolve)
kv: "redis://127.0.0.1:6379/0"                  # the kv host functions' store (as --kv; default sqlite)
```

A plugin comes from the registry it names, else `default`; a dependency that extism.yaml does not
list comes from the registry of the plugin that needs it. Every error names the file and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plugin_format.errors import ProjectError, RegistryError, SemverError
from plugin_format.semver import Range
from plugin_format.yaml_load import YamlLimitError, load_yaml
from registry_static.client import normalize_url
from registry_static.layout import check_name
from registry_static.redact import split_credentials

LOCK_FILE = "extism.lock"
DEFAULT_REGISTRY = "default"
TOP_KEYS = ("registries", "plugins", "grants", "allow", "resolve", "kv")
REGISTRY_KEYS = ("url", "token_env", "root_sha256")
PLUGIN_KEYS = ("version", "registry", "prerelease")


@dataclass(frozen=True)
class RegistryRef:
    """One entry of `registries:`."""

    name: str
    url: str  # normalized: scheme://…/ with a trailing slash; never with credentials (see `authorization`)
    token_env: str | None = None
    root_sha256: str | None = None
    #: `user:password` of the URL as written in extism.yaml, as an Authorization header (never shown)
    authorization: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Wanted:
    """One entry of `plugins:`."""

    name: str
    spec: str
    range: Range
    registry: str  # a key of Project.registries ("" for an OCI artifact)
    #: `oci://host/repo:tag` or `…@sha256:digest`: pulled as it is (no index, no TUF; see registry_static.oci)
    oci: str | None = None
    #: `prerelease: true`: pre-releases match `range` like releases do (npm's `includePrerelease`); only
    #: this range: a plugin that depends on it still needs a range naming a pre-release to accept one
    prerelease: bool = False


@dataclass(frozen=True)
class Project:
    path: Path
    registries: dict[str, RegistryRef]
    plugins: dict[str, Wanted]
    #: The `grants:` section as written; the run side (extism_platform.grants) parses and checks it,
    #: so data flows one way: distribute never imports run.
    grants: dict[str, Any]
    text: str
    #: `allow:` — glob patterns (`@acme/*`, `@acme/weather@^1`) of the plugins an agent may enable
    #: through `extism-mcp-server --registry`'s discovery tools; nothing when absent.
    allow: tuple[str, ...] = ()
    #: `resolve:` — host → base URL the server sends that host's requests to instead (a loopback stand-in,
    #: as `extism-mcp-server --resolve`; the grant still applies to the host)
    resolve: dict[str, str] = field(default_factory=dict)
    #: `kv:` — the kv store's URL (`redis://…`, `sqlite:///PATH`), as `extism-mcp-server --kv`; None: sqlite
    kv: str | None = None

    @property
    def lock_path(self) -> Path:
        """`extism.lock`, beside extism.yaml."""
        return self.path.with_name(LOCK_FILE)

    def registry_for(self, name: str, parent: RegistryRef | None = None) -> RegistryRef:
        """Where `name` comes from: its own `registry:`, else `parent` (the registry of the plugin that
        needs it), else `default`."""
        if name in self.plugins:
            return self.registries[self.plugins[name].registry]
        if parent is not None:
            return parent
        return self._default(f"{self.path.name}: plugins.{name}")

    def _default(self, where: str) -> RegistryRef:
        if DEFAULT_REGISTRY not in self.registries:
            raise ProjectError(f"{where}: no `{DEFAULT_REGISTRY}` registry (add registries: {{default: URL}})")
        return self.registries[DEFAULT_REGISTRY]


def _registry(name: str, value: Any, base: Path, where: str) -> RegistryRef:
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, Mapping):
        raise ProjectError(f"{where}: expected a URL or a mapping with {', '.join(REGISTRY_KEYS)}")
    unknown = sorted(set(value) - set(REGISTRY_KEYS))
    if unknown:
        raise ProjectError(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(REGISTRY_KEYS)})")
    url = value.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ProjectError(f"{where}.url: expected https://…, http://…, file:///… or a directory path")
    url = url.strip()
    if "://" not in url:
        url = str((base / Path(url).expanduser()).resolve())  # relative to extism.yaml, not to the cwd
    try:
        url, authorization = split_credentials(normalize_url(url))
    except RegistryError as exc:
        raise ProjectError(f"{where}: {exc}") from None
    for key in ("token_env", "root_sha256"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise ProjectError(f"{where}.{key}: expected a string")
    pin = value.get("root_sha256")
    if pin is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", pin):
        raise ProjectError(f"{where}.root_sha256: expected the sha256 (64 hex digits) of the registry's 1.root.json")
    return RegistryRef(name, url, value.get("token_env"), pin, authorization)


def _wanted(name: Any, value: Any, registries: Mapping[str, RegistryRef], where: str) -> Wanted:
    try:
        check_name(name)
    except RegistryError as exc:
        raise ProjectError(f"{where}: {exc}") from None
    registry = DEFAULT_REGISTRY
    prerelease = False
    if isinstance(value, str) and value.strip().lower().startswith("oci://"):
        from registry_static.oci import OciRef  # lazy: only OCI entries need it

        try:
            ref = OciRef.parse(value.strip())
        except RegistryError as exc:
            raise ProjectError(f"{where}: {exc}") from None
        if ref.reference is None:
            raise ProjectError(f"{where}: name the artifact: {ref}:VERSION or {ref}@sha256:DIGEST")
        return Wanted(name, str(ref), Range.parse("*"), "", str(ref))
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(PLUGIN_KEYS))
        if unknown:
            raise ProjectError(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(PLUGIN_KEYS)})")
        registry = value.get("registry", DEFAULT_REGISTRY)
        prerelease = value.get("prerelease", False)
        value = value.get("version", "*")
        if not isinstance(registry, str):
            raise ProjectError(f"{where}.registry: expected the name of an entry of registries")
        if not isinstance(prerelease, bool):
            raise ProjectError(
                f"{where}.prerelease: expected true or false (true: pre-releases such as 2.0.0-rc.1 match the range)"
            )
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # `1` or `1.2` written without quotes
    if value is None:
        value = "*"
    if not isinstance(value, str):
        raise ProjectError(f'{where}: expected a version range such as "^1.2" or {{version: "^1.2", registry: NAME}}')
    try:
        rng = Range.parse(value, include_prerelease=prerelease)
    except SemverError as exc:
        raise ProjectError(f"{where}: {exc}") from None
    if registry not in registries:
        known = ", ".join(registries) or "none"
        raise ProjectError(f"{where}: no registry named {registry!r} in registries (defined: {known})")
    return Wanted(name, value.strip(), rng, registry, prerelease=prerelease)


def parse_project(path: Path, text: str) -> Project:
    """Validate extism.yaml's text (read from `path`, whose directory anchors relative registry paths)."""
    where = path.name
    try:
        doc = load_yaml(text, path.name)
    except YamlLimitError as exc:
        raise ProjectError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    doc = {} if doc is None else doc
    if not isinstance(doc, Mapping):
        raise ProjectError(f"{path}: expected a mapping with {', '.join(TOP_KEYS)}")
    unknown = sorted(str(k) for k in set(doc) - set(TOP_KEYS))
    if unknown:
        raise ProjectError(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(TOP_KEYS)})")
    regs_doc = doc.get("registries") or {}
    if isinstance(regs_doc, str):
        regs_doc = {DEFAULT_REGISTRY: regs_doc}
    if not isinstance(regs_doc, Mapping):
        raise ProjectError(f"{where}: registries: expected a mapping of name to URL, e.g. {{default: https://…}}")
    base = path.resolve().parent
    registries = {str(n): _registry(str(n), v, base, f"{where}: registries.{n}") for n, v in regs_doc.items()}
    plugins_doc = doc.get("plugins") or {}
    if not isinstance(plugins_doc, Mapping):
        raise ProjectError(f'{where}: plugins: expected a mapping of plugin name to range, e.g. {{"@acme/x": "^1"}}')
    plugins = {str(n): _wanted(n, v, registries, f"{where}: plugins.{n}") for n, v in plugins_doc.items()}
    grants_doc = doc.get("grants") or {}
    if not isinstance(grants_doc, Mapping):
        raise ProjectError(f"{where}: grants: expected a mapping of plugin name to its grant")
    grants = {str(n): g for n, g in grants_doc.items()}
    allow_doc = doc.get("allow") or []
    if isinstance(allow_doc, str):
        allow_doc = [allow_doc]
    if not isinstance(allow_doc, list) or not all(isinstance(a, str) and a for a in allow_doc):
        raise ProjectError(f'{where}: allow: expected a list of plugin patterns, e.g. ["@acme/*", "@acme/weather@^1"]')
    resolve_doc = doc.get("resolve") or {}
    if not isinstance(resolve_doc, Mapping) or not all(
        isinstance(v, str) and v.startswith(("http://", "https://")) for v in resolve_doc.values()
    ):
        raise ProjectError(
            f'{where}: resolve: expected host: URL pairs, e.g. {{api.weather.example: "http://127.0.0.1:8123"}}'
        )
    resolve = {str(h).lower(): v for h, v in resolve_doc.items()}
    kv = doc.get("kv")
    if kv is not None and not (isinstance(kv, str) and kv):
        raise ProjectError(f'{where}: kv: expected the kv store\'s URL, e.g. "redis://127.0.0.1:6379/0"')
    return Project(path, registries, plugins, grants, text, tuple(allow_doc), resolve, kv)


def load_project(path: Path) -> Project:
    """Read and validate extism.yaml."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(
            f"{path}: not found (create it with `registries: {{default: URL}}` and `plugins:`, or pass --project PATH)"
        ) from None
    except OSError as exc:
        raise ProjectError(f"{path}: {exc.strerror}") from None
    return parse_project(Path(path), text)


# ---- editing: `extism-plugin add` / `remove` / `update --latest` ----------------------------------


def _key_of(line: str) -> str | None:
    m = re.match(r"^\s*(?:\"([^\"]+)\"|'([^']+)'|([^\s:#\"'][^:]*?))\s*:(?:\s|$)", line)
    return next((g for g in m.groups() if g), None) if m else None


def with_plugin(
    project: Project, name: str, spec: str, registry: str | None = None, *, prerelease: bool = False
) -> str:
    """extism.yaml's text with `plugins.<name>` set to `spec`, everything else (comments, order, other
    sections) kept byte for byte; an entry's `prerelease: true` stays (`prerelease`: set it). Refuses
    layouts it cannot edit safely (flow-style `plugins: {…}`)."""
    old = project.plugins.get(name)
    want: Any = {"version": spec}
    if registry is not None:
        want["registry"] = registry
    if prerelease or (old is not None and old.prerelease):
        want["prerelease"] = True
    if len(want) == 1:
        return _edit_plugins(project, name, f'"{name}": "{spec}"', spec)
    fields = f'version: "{spec}"' + "".join(
        f", {k}: {'true' if v is True else v}" for k, v in want.items() if k != "version"
    )
    return _edit_plugins(project, name, f'"{name}": {{{fields}}}', want)


def without_plugin(project: Project, name: str) -> str:
    """extism.yaml's text without `plugins.<name>` (its comment lines and every other line kept)."""
    if name not in project.plugins:
        raise ProjectError(f"{project.path.name}: plugins: has no {name}")
    return _edit_plugins(project, name, None, None)


def _edit_plugins(project: Project, name: str, entry: str | None, want: Any) -> str:
    """Set (`entry`, a `"name": value` line) or remove (None) one entry of the `plugins:` block."""
    shown = entry or f"remove {name}"
    lines = project.text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next((i for i, ln in enumerate(lines) if _key_of(ln) == "plugins" and not ln[0].isspace()), None)
    if start is None:
        if entry is None:
            raise ProjectError(f"{project.path.name}: has no plugins: section")
        new = [*lines, f"plugins:\n  {entry}\n"]
    else:
        rest = lines[start].split(":", 1)[1].split("#", 1)[0].strip()
        if rest not in ("", "{}", "null", "~"):
            raise ProjectError(
                f"{project.path.name}: plugins: written in flow style; {shown} by hand (or use a block mapping)"
            )
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
            end += 1
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1  # keep blank lines after the section where they are
        block = lines[start + 1 : end]
        indent = next((ln[: len(ln) - len(ln.lstrip())] for ln in block if ln.strip() and ln.lstrip()[0] != "#"), "  ")
        head = lines[start] if rest == "" else "plugins:\n"
        out, i, replaced = [], 0, False
        while i < len(block):
            ln = block[i]
            is_entry = ln.startswith(indent) and not ln[len(indent)].isspace() and _key_of(ln) == name
            if not is_entry:
                out.append(ln)
                i += 1
                continue
            i += 1
            one_line = True
            while i < len(block) and (not block[i].strip() or len(block[i]) - len(block[i].lstrip()) > len(indent)):
                i += 1  # the old entry's continuation lines (a block mapping value)
                one_line = False
            if entry is not None:
                # a one-line entry keeps its trailing comment (`"@a/x": "^1"   # why we pin it`)
                comment = re.search(r"\s+#[^\"']*$", ln.rstrip("\n")) if one_line else None
                out.append(f"{indent}{entry}{comment.group(0) if comment else ''}\n")
            replaced = True
        if not replaced and entry is not None:
            last = max((k for k, ln in enumerate(out) if ln.strip() and not ln.lstrip().startswith("#")), default=-1)
            out.insert(last + 1, f"{indent}{entry}\n")
        new = [*lines[:start], head, *out, *lines[end:]]
    text = "".join(new)
    # The edit must change exactly one entry: re-parse and compare with the original.
    where = project.path.name
    before, after = load_yaml(project.text, where) or {}, load_yaml(text, where) or {}
    after_plugins = dict(after.get("plugins") or {})
    got = after_plugins.pop(name, None)
    before_plugins = {k: v for k, v in (before.get("plugins") or {}).items() if k != name}
    others_same = {k: v for k, v in before.items() if k != "plugins"} == {
        k: v for k, v in after.items() if k != "plugins"
    }
    if got != want or after_plugins != before_plugins or not others_same:
        raise ProjectError(f"{project.path.name}: could not edit plugins: safely; {shown} by hand")
    return text
