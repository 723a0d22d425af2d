"""plugin.yaml: load, validate against the shipped JSON Schema, and normalise.

Every error names the file, the field path and what is allowed, e.g.
`plugin.yaml: exports[1].input_schema: not a JSON Schema object (…)`.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from plugin_format import names
from plugin_format.errors import ManifestError

if TYPE_CHECKING:
    import jsonschema

# jsonschema and PyYAML are imported where a plugin.yaml is read or checked: a process that only
# reads resolved plugin.json files (the MCP server) starts without them.

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "plugin.schema.json"
MANIFEST_NAME = "plugin.yaml"
MAX_EXPORTS = 1024  # each export with a schema is an MCP tool: more is a mistake (or an attack)

# Defaults of what a plugin gets when it asks for nothing: deny everything, modest limits.
DEFAULT_MEMORY_MIB = 64
DEFAULT_TIMEOUT_MS = 30_000
_MAIN_MODULE = names.MAIN_MODULE  # `validate` has a local `names`


@lru_cache(maxsize=1)
def plugin_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _describe(err: jsonschema.ValidationError) -> str:
    """Turn a jsonschema error into what is allowed, in words."""
    schema = err.schema if isinstance(err.schema, dict) else {}
    if err.validator == "pattern" and schema.get("description"):
        return f"{err.instance!r} is not allowed: {schema['description']}"
    if err.validator == "additionalProperties":
        allowed = ", ".join(sorted(schema.get("properties", {}))) or "none"
        extra = sorted(set(err.instance) - set(schema.get("properties", {})))
        return f"unknown field(s) {', '.join(map(repr, extra))} (allowed: {allowed})"
    if err.validator == "oneOf" and all(set(o) == {"required"} for o in err.validator_value):
        choices = " or ".join(f"`{o['required'][0]}`" for o in err.validator_value)
        return f"give one of {choices} (exactly one)"
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    return err.message


@dataclass(frozen=True)
class Export:
    name: str
    description: str = ""
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    #: plugin.yaml's MCP tool annotations (`readOnlyHint`, …), overriding the derived ones
    annotations: dict[str, Any] | None = None
    #: `json` (the arguments object) or `text` (one string argument `input`, passed as raw text)
    input: str = "json"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.input_schema is not None:
            d["input_schema"] = self.input_schema
        if self.output_schema is not None:
            d["output_schema"] = self.output_schema
        if self.annotations is not None:
            d["annotations"] = self.annotations
        if self.input != "json":
            d["input"] = self.input
        return d


@dataclass(frozen=True)
class Permissions:
    hosts: tuple[str, ...] = ()
    paths: dict[str, str] = field(default_factory=dict)
    config: tuple[str, ...] = ()
    memory_mib: int = DEFAULT_MEMORY_MIB
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    host_functions: tuple[str, ...] = ()
    #: the plugin reads its HTTP responses' headers (the kernel's `http_headers`)
    http_response_headers: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "hosts": list(self.hosts),
            "paths": dict(self.paths),
            "config": list(self.config),
            "memory_mib": self.memory_mib,
            "timeout_ms": self.timeout_ms,
            "host_functions": list(self.host_functions),
        }
        if self.http_response_headers:  # only when asked: plugin.json of every other plugin stays as it was
            d["http_response_headers"] = True
        return d


@dataclass(frozen=True)
class PluginManifest:
    """A validated plugin.yaml, with defaults filled in."""

    path: Path
    name: str
    version: str
    language: str
    exports: tuple[Export, ...]
    description: str = ""
    license: str = ""
    wasi: bool = False
    source: str | None = None
    readme: str | None = None
    homepage: str = ""
    tags: tuple[str, ...] = ()
    permissions: Permissions = field(default_factory=Permissions)
    dependencies: dict[str, str] = field(default_factory=dict)
    tests: tuple[dict[str, Any], ...] = ()
    #: lifecycle hook -> export (`on_install`, `on_update`, `on_uninstall`), run by the package manager
    hooks: dict[str, str] = field(default_factory=dict)
    #: plugin.yaml's `build:`, the toolchain driver's settings (`module`, `abort`)
    build: dict[str, Any] = field(default_factory=dict)
    #: icons MCP clients show beside the plugin's tools, prompts and docs (`src`, `mime_type`, `sizes`)
    icons: tuple[dict[str, Any], ...] = ()
    #: MCP resources (`uri`, `name`, `description`, `mime_type`, and `text` or `export`)
    resources: tuple[dict[str, Any], ...] = ()
    #: MCP resource templates (`uri_template` with {name} parts, `name`, `mime_type`, `export`)
    resource_templates: tuple[dict[str, Any], ...] = ()
    #: MCP prompts (`name`, `description`, `arguments`, `messages` with {argument} placeholders)
    prompts: tuple[dict[str, Any], ...] = ()

    @property
    def project_dir(self) -> Path:
        return self.path.parent

    @property
    def source_dir(self) -> Path:
        return (self.project_dir / self.source).resolve() if self.source else self.project_dir

    @property
    def scope(self) -> str | None:
        return names.split(self.name)[0]

    @property
    def bare_name(self) -> str:
        return names.split(self.name)[1]

    @property
    def folded_name(self) -> str:
        """`@acme/weather` → `acme-weather` (file names, Python project names)."""
        return names.fold(self.name)

    @property
    def artifact_stem(self) -> str:
        return f"{self.folded_name}-{self.version}"

    def export(self, name: str) -> Export | None:
        return next((e for e in self.exports if e.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """The resolved manifest, as recorded in `<name>-<version>.plugin.json`."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "language": self.language,
            "license": self.license,
            "homepage": self.homepage,
            "tags": list(self.tags),
            "wasi": self.wasi,
            "exports": [e.to_dict() for e in self.exports],
            "permissions": self.permissions.to_dict(),
            "dependencies": dict(self.dependencies),
            # only when declared: the plugin.json of a plugin without hooks stays what it was
            **({"hooks": dict(self.hooks)} if self.hooks else {}),
            **({"icons": [dict(i) for i in self.icons]} if self.icons else {}),
            **({"resources": [dict(r) for r in self.resources]} if self.resources else {}),
            **({"resource_templates": [dict(t) for t in self.resource_templates]} if self.resource_templates else {}),
            **({"prompts": [dict(p) for p in self.prompts]} if self.prompts else {}),
        }


@lru_cache(maxsize=1)
def _meta_validator() -> jsonschema.Draft202012Validator:
    """One validator of the 2020-12 meta-schema (what `check_schema` builds anew for every call)."""
    import jsonschema  # noqa: PLC0415

    cls = jsonschema.Draft202012Validator
    return cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)


def validate(doc: Any, source: str = MANIFEST_NAME) -> None:
    """Raise `ManifestError` naming the first problems (all of them, sorted by position)."""
    if not isinstance(doc, dict):
        raise ManifestError(f"{source}: expected a mapping of fields (name, version, language, exports, …)")
    exports = doc.get("exports")
    if isinstance(exports, list) and len(exports) > MAX_EXPORTS:
        raise ManifestError(
            f"{source}: exports: {len(exports):,} exports; at most {MAX_EXPORTS} are allowed (split the plugin)"
        )
    import jsonschema  # noqa: PLC0415

    validator = jsonschema.Draft202012Validator(plugin_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [f"{source}: {_path(e.absolute_path)}: {_describe(e)}" for e in errors]
    for i, exp in enumerate(doc.get("exports") or []):
        if not isinstance(exp, dict):
            continue
        for key in ("input_schema", "output_schema"):
            if isinstance(exp.get(key), dict):
                bad = jsonschema.exceptions.best_match(_meta_validator().iter_errors(exp[key]))
                if bad is not None:
                    problems.append(f"{source}: exports[{i}].{key}: not a JSON Schema object ({bad.message})")
    names = [e.get("name") for e in doc.get("exports") or [] if isinstance(e, dict)]
    counts = Counter(n for n in names if isinstance(n, str))  # linear: names.count() per name was quadratic
    dupes = sorted(n for n, c in counts.items() if c > 1 and n)
    if dupes:
        problems.append(f"{source}: exports: duplicate export name(s) {', '.join(dupes)}")
    declared = set(names)
    for i, test in enumerate(doc.get("tests") or []):
        if isinstance(test, dict) and isinstance(test.get("export"), str) and test["export"] not in declared:
            problems.append(f"{source}: tests[{i}].export: {test['export']!r} is not one of the declared exports")
    problems += _mcp_extras_problems(doc, source, declared)
    for dep in doc.get("dependencies") or {}:
        if dep == _MAIN_MODULE:
            problems.append(f"{source}: dependencies.{dep}: {dep!r} is the importing module's own name (rename it)")
    if problems:
        raise ManifestError("\n".join(problems))


#: a prompt message's placeholder: `{name}` (`{{` and `}}` are literal braces)
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_prompt(text: str, values: dict[str, str]) -> str:
    """A prompt message with its placeholders filled in (an argument not given: empty)."""
    return PLACEHOLDER.sub(lambda m: {"{{": "{", "}}": "}"}.get(m.group(0)) or values.get(m.group(1), ""), text)


#: a resource template's part: `{name}`, matching one path segment
TEMPLATE_PART = re.compile(r"\{([^{}]*)\}")
_TEMPLATE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def template_problem(template: str) -> str | None:
    """Why `template` is not a usable resource template (None: it is)."""
    names = TEMPLATE_PART.findall(template)
    if not names:
        return f"{template!r} has no {{name}} part (a fixed URI is a resource: declare it under resources)"
    bad = [n for n in names if not _TEMPLATE_NAME.fullmatch(n)]
    if bad:
        return f"{{{bad[0]}}}: a part is a plain name ({{id}}); operators of RFC 6570 are not supported"
    if len(set(names)) != len(names):
        return f"{template!r} names a part twice"
    if "}{" in template:
        return f"{template!r} has two parts with nothing between them (which one a character belongs to is unclear)"
    if TEMPLATE_PART.sub("", template).count("{") or TEMPLATE_PART.sub("", template).count("}"):
        return f"{template!r} has an unmatched brace"
    return None


def match_template(template: str, uri: str) -> dict[str, str] | None:
    """The values of `template`'s parts in `uri` (None: it does not match); a part is one or more
    characters other than / ? #. Matched with RE2 (linear time: the URI is the client's)."""
    import re2  # noqa: PLC0415

    pattern, last = "", 0
    for m in TEMPLATE_PART.finditer(template):
        pattern += re.escape(template[last : m.start()]) + f"(?P<{m.group(1)}>[^/?#]+)"
        last = m.end()
    pattern += re.escape(template[last:])
    found = re2.fullmatch(pattern, uri)
    return {k: str(v) for k, v in found.groupdict().items()} if found else None


def _mcp_extras_problems(doc: dict[str, Any], source: str, exports: set[Any]) -> list[str]:
    """What the schema cannot say about `resources:` and `prompts:`: an export that exists, one
    entry per URI and per prompt name, placeholders that name a declared argument."""
    problems: list[str] = []
    resources = [r for r in doc.get("resources") or [] if isinstance(r, dict)]
    for i, r in enumerate(resources):
        if isinstance(r.get("export"), str) and r["export"] not in exports:
            problems.append(f"{source}: resources[{i}].export: {r['export']!r} is not one of the declared exports")
    for i, r in enumerate(resources):
        if isinstance(r.get("blob"), str):
            try:
                base64.b64decode(r["blob"], validate=True)
            except ValueError:
                problems.append(f"{source}: resources[{i}].blob: not valid base64 (its length or padding is off)")
    uris = Counter(r.get("uri") for r in resources if isinstance(r.get("uri"), str))
    problems += [f"{source}: resources: {u!r} is declared {n} times" for u, n in sorted(uris.items()) if n > 1]
    templates = [t for t in doc.get("resource_templates") or [] if isinstance(t, dict)]
    for i, t in enumerate(templates):
        if isinstance(t.get("export"), str) and t["export"] not in exports:
            where = f"{source}: resource_templates[{i}].export"
            problems.append(f"{where}: {t['export']!r} is not one of the declared exports")
        if isinstance(t.get("uri_template"), str):
            why = template_problem(t["uri_template"])
            if why:
                problems.append(f"{source}: resource_templates[{i}].uri_template: {why}")
    prompts = [p for p in doc.get("prompts") or [] if isinstance(p, dict)]
    names = Counter(p.get("name") for p in prompts if isinstance(p.get("name"), str))
    problems += [f"{source}: prompts: {n!r} is declared {c} times" for n, c in sorted(names.items()) if c > 1]
    for i, p in enumerate(prompts):
        args = {a.get("name") for a in p.get("arguments") or [] if isinstance(a, dict)}
        for j, m in enumerate(p.get("messages") or []):
            text = m.get("text") if isinstance(m, dict) else None
            if not isinstance(text, str):
                continue
            unknown = sorted({g for g in PLACEHOLDER.findall(text) if g and g not in args})
            if unknown:
                problems.append(
                    f"{source}: prompts[{i}].messages[{j}].text: {{{unknown[0]}}} names no argument of the prompt "
                    f"(declare it under prompts[{i}].arguments, or write {{{{ and }}}} for literal braces)"
                )
    return problems


#: the tool schema of an export with `input: text`: one string, handed to the export as raw text
TEXT_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "the text the export reads as its input"}},
    "required": ["input"],
    "additionalProperties": False,
}


def examples_from_tests(tests: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documentation examples of plugin.yaml's `tests:`: export, input and the expected output or
    error. A test's `config` and `http_mock` stay out (they may hold test credentials), and so does
    a test that names no expectation (it shows nothing a reader could rely on)."""
    out: list[dict[str, Any]] = []
    for test in tests:
        if not isinstance(test, dict) or "export" not in test:
            continue
        for key, kind in (("expect_json", "json"), ("expect_output", "text"), ("expect_error", "error")):
            if key in test:
                ex: dict[str, Any] = {"export": test["export"], "input": test.get("input"), "kind": kind}
                ex["expect"] = test[key]
                if test.get("name"):
                    ex["name"] = str(test["name"])
                out.append(ex)
                break
    return out


def exports_from_list(items: list[dict[str, Any]] | None) -> tuple[Export, ...]:
    """`exports:` of plugin.yaml (or a resolved plugin.json) as `Export`s."""
    return tuple(
        Export(
            e["name"],
            e.get("description", ""),
            TEXT_INPUT_SCHEMA if e.get("input") == "text" else e.get("input_schema"),
            e.get("output_schema"),
            e.get("annotations"),
            e.get("input", "json"),
        )
        for e in items or []
    )


def permissions_from_dict(perms: dict[str, Any] | None) -> Permissions:
    """`permissions:` of plugin.yaml (or a resolved plugin.json), defaults filled in."""
    perms = perms or {}
    return Permissions(
        hosts=tuple(perms.get("hosts") or ()),
        paths=dict(perms.get("paths") or {}),
        config=tuple(perms.get("config") or ()),
        memory_mib=perms.get("memory_mib", DEFAULT_MEMORY_MIB),
        timeout_ms=perms.get("timeout_ms", DEFAULT_TIMEOUT_MS),
        host_functions=tuple(perms.get("host_functions") or ()),
        http_response_headers=bool(perms.get("http_response_headers", False)),
    )


def confined_path(project_dir: Path, value: str, where: str) -> Path:
    """`value` (a path plugin.yaml gives) resolved inside `project_dir`, or `ManifestError`: no
    absolute path, no `..`, no symlink that leads out. Build and publish read these files, so a
    `readme: ../../keys/targets.pem` would otherwise publish whatever it names."""
    pure = PurePosixPath(value.replace("\\", "/"))
    if pure.is_absolute() or PureWindowsPath(value).drive or ".." in pure.parts:
        raise ManifestError(f"{where}: {value!r} must be a path inside the project, relative to plugin.yaml (no '..')")
    root = project_dir.resolve()
    resolved = (root / pure).resolve()
    if resolved != root and root not in resolved.parents:
        raise ManifestError(f"{where}: {value!r} leads outside the project (a symlink?); keep it inside {root}")
    return resolved


def _confine_paths(doc: dict[str, Any], path: Path) -> None:
    project = path.parent
    for key in ("readme", "source"):
        if isinstance(doc.get(key), str):
            confined_path(project, doc[key], f"{path.name}: {key}")
    build = doc["build"] if isinstance(doc.get("build"), dict) else {}
    if isinstance(build.get("module"), str):
        confined_path(project, build["module"], f"{path.name}: build.module")
    # permissions.paths name host directories the *user* must grant (never read by build or
    # publish); a `..` in them only hides where they point.
    perms: dict[str, Any] = doc["permissions"] if isinstance(doc.get("permissions"), dict) else {}
    for host_dir in perms.get("paths") or {}:
        if ".." in PurePosixPath(str(host_dir)).parts:
            raise ManifestError(f"{path.name}: permissions.paths: {host_dir!r}: write the directory without '..'")


def from_dict(doc: dict[str, Any], path: Path) -> PluginManifest:
    validate(doc, path.name)
    _confine_paths(doc, path)
    return PluginManifest(
        path=path.resolve(),
        name=doc["name"],
        version=str(doc["version"]),
        language=doc["language"],
        exports=exports_from_list(doc["exports"]),
        description=doc.get("description", ""),
        license=doc.get("license", ""),
        wasi=bool(doc.get("wasi", False)),
        source=doc.get("source"),
        readme=doc.get("readme"),
        homepage=doc.get("homepage", ""),
        tags=tuple(doc.get("tags") or ()),
        permissions=permissions_from_dict(doc.get("permissions")),
        dependencies=dict(doc.get("dependencies") or {}),
        tests=tuple(doc.get("tests") or ()),
        hooks=dict(doc.get("hooks") or {}),
        build=dict(doc.get("build") or {}),
        icons=tuple(doc.get("icons") or ()),
        resources=tuple(doc.get("resources") or ()),
        resource_templates=tuple(doc.get("resource_templates") or ()),
        prompts=tuple(doc.get("prompts") or ()),
    )


def find_manifest(start: Path) -> Path:
    """`start` itself when it is a plugin.yaml, else `start/plugin.yaml`."""
    path = start if start.is_file() else start / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(
            f"{path}: not found (a plugin project has a {MANIFEST_NAME}; "
            "`extism-plugin init NAME --lang LANG` creates one)"
        )
    return path


def load_manifest(start: Path) -> PluginManifest:
    import yaml  # noqa: PLC0415

    from plugin_format.yaml_load import YamlLimitError, load_yaml  # noqa: PLC0415

    path = find_manifest(start)
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"), path.name)
    except OSError as exc:
        raise ManifestError(f"{path}: {exc.strerror}") from None
    except YamlLimitError as exc:
        raise ManifestError(str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ManifestError(f"{path.name}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return from_dict(doc, path)
