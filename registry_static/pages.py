"""A plugin's documentation page, one renderer for both places it appears.

`extism-registry site` renders a page per published plugin (from the verified index and plugin.json);
`extism-plugin docs` renders one page for a project (from plugin.yaml and its consumer README). Both
build the same view (`plugin_view`) and render the same template (`templates/plugin.html.j2`), so a
plugin's page looks the same before and after it is published: tools with their input and output
schemas as tables, permissions, dependencies, examples (plugin.yaml's `tests:`), install snippets,
and, for a published plugin, versions with their yanked / deprecated / advisory status, the signature
status and the download figures (`extism-registry stats`).
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from plugin_format.files import atomic_write

TEMPLATES = Path(__file__).resolve().parent / "templates"
REGISTRY_PLACEHOLDER = "REGISTRY_URL"
PERM_KINDS = (("hosts", "network"), ("paths", "filesystem"), ("config", "config"), ("host_functions", "host_functions"))


def jinja_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_markdown(text: str | None) -> str:
    """A README as HTML: CommonMark + tables, raw HTML escaped (a README never runs script on the site)."""
    if not text:
        return ""
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").render(text)


def perm_kinds(perms: dict[str, Any]) -> list[str]:
    return [kind for key, kind in PERM_KINDS if perms.get(key)]


# ---------------------------------------------------------------- schemas


def _type_of(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        t = " | ".join(str(x) for x in t)
    if t == "array" and isinstance(schema.get("items"), dict):
        return f"array of {_type_of(schema['items'])}"
    if "enum" in schema and isinstance(schema["enum"], list):
        return "one of " + ", ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    for combo in ("anyOf", "oneOf"):
        if isinstance(schema.get(combo), list):
            return " | ".join(_type_of(s) for s in schema[combo] if isinstance(s, dict))
    return str(t or "any")


def schema_rows(schema: Any, prefix: str = "", depth: int = 0) -> list[dict[str, Any]]:
    """An object schema's properties as table rows (nested objects and arrays of objects flattened
    to dotted names, `items[]`), so a reader sees names, types, required and descriptions at a glance."""
    if not isinstance(schema, dict) or depth > 6:
        return []
    props = schema.get("properties")
    if not isinstance(props, dict):
        return []
    required = set(schema.get("required") or [])
    rows: list[dict[str, Any]] = []
    for key, sub in props.items():
        sub = sub if isinstance(sub, dict) else {}
        name = f"{prefix}{key}"
        notes = []
        if "default" in sub:
            notes.append(f"default {json.dumps(sub['default'], ensure_ascii=False)}")
        for bound in ("minimum", "maximum", "minLength", "maxLength", "pattern", "format"):
            if bound in sub:
                notes.append(f"{bound} {sub[bound]}")
        rows.append(
            {
                "name": name,
                "type": _type_of(sub),
                "required": key in required,
                "description": str(sub.get("description", "")),
                "notes": ", ".join(notes),
                "depth": depth,
            }
        )
        rows += schema_rows(sub, name + ".", depth + 1)
        items = sub.get("items")
        if sub.get("type") == "array" and isinstance(items, dict):
            rows += schema_rows(items, name + "[].", depth + 1)
    return rows


def _tool(e: dict[str, Any], examples: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [
        {
            **ex,
            "input_text": ex["input"]
            if isinstance(ex.get("input"), str)
            else json.dumps(ex.get("input"), ensure_ascii=False),
            "expect_text": ex["expect"]
            if isinstance(ex.get("expect"), str)
            else json.dumps(ex.get("expect"), ensure_ascii=False),
        }
        for ex in examples
        if isinstance(ex, dict) and ex.get("export") == e.get("name")
    ]
    return {
        **e,
        "is_tool": bool(e.get("input_schema")),
        "input_rows": schema_rows(e.get("input_schema")),
        "output_rows": schema_rows(e.get("output_schema")),
        "examples": mine,
    }


# ---------------------------------------------------------------- install snippets


def _grant_yaml(perms: dict[str, Any]) -> str:
    """The `grants:` value a consumer writes to give the plugin what it asks for (config from env vars)."""
    parts = []
    if perms.get("hosts"):
        parts.append("hosts: [" + ", ".join(perms["hosts"]) + "]")
    if perms.get("paths"):
        parts.append("paths: {" + ", ".join(f'"{h}": "{g}"' for h, g in perms["paths"].items()) + "}")
    if perms.get("config"):
        parts.append("config: {" + ", ".join(f'{c}: "${{{c.upper()}}}"' for c in perms["config"]) + "}")
    if perms.get("host_functions"):
        parts.append("host_functions: [" + ", ".join(perms["host_functions"]) + "]")
    return "{" + ", ".join(parts) + "}" if parts else ""


def install_snippets(
    name: str, version: str, perms: dict[str, Any], registry_url: str | None = None
) -> list[dict[str, Any]]:
    """The ways to use a plugin: extism.yaml, `extism-plugin add`, `extism-mcp-server`, Mastra.

    Each snippet is HTML (escaped) in which the registry URL is a `<span class="registry-url">`: the
    given `registry_url`, else a placeholder that a registry's page fills in from its own address (so
    the same files work on any host or sub-path)."""
    url = "\x00"
    spec = f"^{version}"
    grant = _grant_yaml(perms)
    yaml_lines = ["registries:", f"  default: {url}", "plugins:", f'  "{name}": "{spec}"']
    if grant:
        yaml_lines += ["grants:", f'  "{name}": {grant}']
    mastra = (
        "import { MCPClient } from '@mastra/mcp';\n\n"
        "export const extismMcp = new MCPClient({\n"
        "  id: 'extism',\n"
        "  servers: {\n"
        "    extism: {\n"
        "      command: 'extism-mcp-server',\n"
        f"      args: ['--registry', '{url}', '--plugin', '{name}@{spec}'],\n"
        "    },\n"
        "  },\n"
        "});\n"
        "// tools: await extismMcp.listTools()"
    )
    snippets = [
        (
            "extism.yaml",
            "extism.yaml, then `extism-plugin install` (verifies and writes extism.lock)",
            "\n".join(yaml_lines),
        ),
        ("add", "or add it to an existing extism.yaml", f"extism-plugin add {name}"),
        (
            "mcp",
            "as MCP tools for any MCP client (verified and cached on first use)",
            f'extism-mcp-server --registry {url} --plugin "{name}@{spec}"',
        ),
        ("mastra", "a Mastra agent (`extism-mastra config` writes this for a project)", mastra),
        ("fetch", "just the signed module, verified", f'extism-registry fetch {url} "{name}@{spec}" --out .'),
    ]
    out = []
    for key, label, text in snippets:
        shown = escape(registry_url or REGISTRY_PLACEHOLDER)
        html = str(escape(text)).replace("\x00", f'<span class="registry-url">{shown}</span>')
        label_html = re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(label)))
        out.append(
            {
                "key": key,
                "label": Markup(label_html),
                "html": Markup(html),
                "text": text.replace("\x00", str(shown)),
            }
        )
    return out


# ---------------------------------------------------------------- per-version status


def version_notes(v: dict[str, Any]) -> dict[str, Any]:
    """Advisories and the permission change of one version, from whatever the index carries.

    Read defensively: these fields are optional (older indexes have none), and a malformed entry is
    shown as far as it reads rather than breaking the page. Advisories: a list of objects with
    `id`, `severity`, `summary`/`title`, `url`, `fixed`. Permission change: an object
    {added: {kind: [...]}, removed: {...}} (or lists) under `permission_diff` / `permissions_diff`."""
    advisories = []
    raw = v.get("advisories")
    for a in raw if isinstance(raw, list) else []:
        if isinstance(a, str):
            a = {"id": a}
        if not isinstance(a, dict):
            continue
        url = str(a.get("url") or "")
        advisories.append(
            {
                "id": str(a.get("id") or "advisory"),
                "severity": str(a.get("severity") or "").lower(),
                "summary": str(a.get("summary") or a.get("title") or a.get("description") or ""),
                "url": url if url.startswith(("https://", "http://")) else "",
                "fixed": str(a.get("fixed") or a.get("fixed_in") or ""),
            }
        )
    changes: list[str] = []
    diff = next((v[k] for k in ("permission_diff", "permissions_diff", "permission_changes") if v.get(k)), None)
    if isinstance(diff, dict):
        for sign, key in (("+", "added"), ("−", "removed"), ("~", "changed")):
            part = diff.get(key)
            if isinstance(part, dict):
                for kind, vals in part.items():
                    vals = vals if isinstance(vals, list) else [vals]
                    changes += [f"{sign} {kind}: {x}" for x in vals]
            elif isinstance(part, list):
                changes += [f"{sign} {x}" for x in part]
    elif isinstance(diff, list):
        changes = [str(x) for x in diff]
    return {"advisories": advisories, "permission_changes": changes}


# ---------------------------------------------------------------- downloads


def downloads_svg(days: dict[str, int], *, end: str | None = None, span: int = 30) -> Markup:
    """The last `span` days of downloads as a small inline SVG bar chart (no script, no external file)."""
    if not days:
        return Markup("")
    last = date.fromisoformat(end or max(days))
    series = [
        (d.isoformat(), int(days.get(d.isoformat(), 0)))
        for d in (last - timedelta(days=i) for i in range(span - 1, -1, -1))
    ]
    top = max(n for _, n in series) or 1
    w, h, bar = span * 8, 48, 6
    rects = []
    for i, (day, n) in enumerate(series):
        bh = 0 if n == 0 else max(2, round(n / top * (h - 2)))
        rects.append(
            f'<rect x="{i * 8 + 1}" y="{h - bh}" width="{bar}" height="{bh}" rx="1"><title>{day}: {n}</title></rect>'
        )
    label = f"downloads per day, {series[0][0]} to {series[-1][0]} (most: {top})"
    return Markup(
        f'<svg class="downloads-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(label)}" '
        f'preserveAspectRatio="none"><line x1="0" y1="{h - 0.5}" x2="{w}" y2="{h - 0.5}" class="axis"/>'
        + "".join(rects)
        + "</svg>"
    )


def downloads_view(stats: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """One plugin's figures from a stats file (`extism-registry stats --write`), or None."""
    if not isinstance(stats, dict):
        return None
    mine = (stats.get("plugins") or {}).get(name)
    if not isinstance(mine, dict):
        return None
    days = {str(k): int(v) for k, v in (mine.get("days") or {}).items()}
    return {
        "total": int(mine.get("total", 0)),
        "versions": sorted(((str(k), int(n)) for k, n in (mine.get("versions") or {}).items()), key=lambda kv: -kv[1]),
        "chart": downloads_svg(days, end=stats.get("until")),
        "since": stats.get("since") or (min(days) if days else ""),
        "until": stats.get("until") or (max(days) if days else ""),
    }


# ---------------------------------------------------------------- the page


def plugin_view(
    doc: dict[str, Any],
    *,
    readme: str | None = None,
    examples: list[dict[str, Any]] | None = None,
    versions: list[dict[str, Any]] | None = None,
    downloads: dict[str, Any] | None = None,
    registry_url: str | None = None,
) -> dict[str, Any]:
    """What the page template needs for one plugin.

    `doc` has the fields of a version in the index (name, version, description, language, license,
    tags, exports, permissions, dependencies, and for a published plugin key_id, sha256, size,
    verified, error); `versions` the published versions, newest first (None for an unpublished
    project); `examples` from `plugin_format.manifest.examples_from_tests`."""
    perms = {"memory_mib": None, "timeout_ms": None, **(doc.get("permissions") or {})}
    deps = doc.get("dependencies") or {}
    if isinstance(deps, dict):
        deps = [{"name": d, "range": r, "href": ""} for d, r in sorted(deps.items())]
    return {
        **doc,
        "permissions": perms,
        "perm_kinds": perm_kinds(perms),
        "dependencies": deps,
        "tags": list(doc.get("tags") or []),
        "tools": [_tool(e, examples or []) for e in doc.get("exports") or []],
        "tool_count": sum(1 for e in doc.get("exports") or [] if e.get("input_schema")),
        "readme_html": render_markdown(readme),
        "snippets": install_snippets(doc["name"], doc["version"], perms, registry_url),
        "versions": [{**v, **version_notes(v)} for v in versions] if versions is not None else None,
        "downloads": downloads,
        "verify_error": str(doc.get("error") or "").split(": ", 1)[-1][:200],
    }


def render_plugin_page(env: jinja2.Environment, p: dict[str, Any], *, root: str, common: dict[str, Any]) -> str:
    return env.get_template("plugin.html.j2").render(root=root, p=p, **common)


def copy_assets(directory: Path) -> None:
    """The stylesheet and script beside the pages (each file replaced atomically)."""
    assets = directory / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    for f in (TEMPLATES / "assets").iterdir():
        tmp_copy = assets / f".{f.name}.tmp"
        shutil.copyfile(f, tmp_copy)
        tmp_copy.replace(assets / f.name)


def write_project_docs(
    doc: dict[str, Any],
    out: Path,
    *,
    readme: str | None,
    examples: list[dict[str, Any]],
    generated: str,
    registry_url: str | None = None,
) -> tuple[Path, dict[str, Any]]:
    """`extism-plugin docs`: one page (`OUT/index.html`) and its assets for an unpublished project;
    returns the page's path and its view (what `--json` prints)."""
    p = plugin_view(doc, readme=readme, examples=examples, registry_url=registry_url)
    common = {"registry_name": doc["name"], "generated": generated, "package_count": 1, "standalone": True}
    html = render_plugin_page(jinja_env(), p, root="", common=common)
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    atomic_write(out / "index.html", html.encode(), fsync=False)
    return out / "index.html", p
