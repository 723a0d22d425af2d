"""`extism-registry site DIR`: the static HTML directory of a registry (jinja2, no server code).

`index.html` (featured plugins, client-side search and filters by language, permissions and tags) and
one page per plugin (`plugins/<scope>/<name>.html`: README, tools and their JSON schemas, permissions,
versions, dependencies, install snippet, signer key and verification status). Every version is verified
through the same client code that installs plugins, so the status shown is what an installer would see.
All links are relative: the site works from any sub-path of a CDN and from file://.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt

from plugin_format.errors import RegistryError
from plugin_format.files import atomic_write
from plugin_format.semver import Version
from registry_static.client import RegistryClient, normalize_url
from registry_static.layout import LOCK_NAME, folded, role_name, scope_label, split_name
from registry_static.repository import Repository, private_scopes

TEMPLATES = Path(__file__).resolve().parent / "templates"
PERM_KINDS = (("hosts", "network"), ("paths", "filesystem"), ("config", "config"), ("host_functions", "host_functions"))


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _perm_kinds(perms: dict[str, Any]) -> list[str]:
    return [kind for key, kind in PERM_KINDS if perms.get(key)]


def _page(name: str) -> str:
    return f"plugins/{folded(name)}.html"


def build_site(directory: Path, *, featured: list[str] | None = None, root: bytes | None = None) -> dict[str, Any]:
    """Write index.html, plugins/**.html and assets/ into the registry directory; return a summary."""
    directory = Path(directory)
    repo = Repository(directory, keys_dir=Path("/nonexistent"))
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    env = _env()
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    anchor = root if root is not None else (directory / "metadata" / "1.root.json").read_bytes()
    plugins: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="extism-registry-site-") as tmp:
        client = RegistryClient(normalize_url(str(directory)), Path(tmp), root=anchor)
        names = repo.packages()
        for name in names:
            try:
                infos = client.versions(name)
            except RegistryError as exc:
                plugins.append({"name": name, "error": str(exc)})
                continue
            if not infos:
                continue
            versions = []
            for info in infos:
                try:
                    client.fetch(name, info.version)
                    versions.append({**info.to_dict(), "verified": True, "error": ""})
                except RegistryError as exc:
                    versions.append({**info.to_dict(), "verified": False, "error": str(exc)})
            # the page shows the newest release: not yanked, and not a pre-release unless there is nothing else
            live = (
                [v for v in versions if not v["yanked"] and not Version.parse(v["version"]).is_prerelease]
                or [v for v in versions if not v["yanked"]]
                or versions
            )
            latest = max(live, key=lambda v: Version.parse(v["version"]))
            readme = client.readme(name, latest["version"])
            scope, _ = split_name(name)
            plugins.append(
                {
                    **latest,
                    "name": name,
                    "href": _page(name),
                    "role": role_name(scope),
                    "perm_kinds": _perm_kinds(latest["permissions"]),
                    "tool_count": sum(1 for e in latest["exports"] if e.get("input_schema")),
                    "readme_html": md.render(readme) if readme else "",
                    "verify_error": latest["error"].split(": ", 1)[-1][:200],
                    "versions": sorted(versions, key=lambda v: Version.parse(v["version"]), reverse=True),
                    "search_text": " ".join(
                        [
                            name,
                            latest["description"],
                            latest["language"],
                            *latest["tags"],
                            *(e.get("name", "") + " " + e.get("description", "") for e in latest["exports"]),
                        ]
                    ).lower(),
                }
            )
    broken = [p for p in plugins if "error" in p and "version" not in p]
    plugins = [p for p in plugins if "version" in p]
    by_name = {p["name"]: p for p in plugins}
    for p in plugins:
        p["dependencies"] = [
            {"name": d, "range": r, "href": ("../../" + by_name[d]["href"]) if d in by_name else ""}
            for d, r in sorted(p["dependencies"].items())
        ]
    private = set(private_scopes(repo.config))
    public = [p for p in plugins if split_name(p["name"])[0] not in private]
    wanted = featured if featured is not None else list(repo.config.get("featured") or [])
    common = {"registry_name": repo.name, "generated": generated, "package_count": len(public)}
    # Anonymous visitors see only public scopes; each private scope gets its own listing, served only
    # with a token that may read it (registry_static.access).
    index_html = _listing(env, public, wanted, "", common)
    listings = {
        f"scopes/{scope}/index.html": _listing(
            env,
            [p for p in plugins if split_name(p["name"])[0] == scope],
            wanted,
            "../../",
            {**common, "registry_name": f"{repo.name} — {scope_label(scope)}"},
        )
        for scope in sorted(private)
    }
    with site_lock(directory):
        return _write_site(directory, env, plugins, broken, index_html, common, public, listings)


def _listing(
    env: jinja2.Environment, plugins: list[dict[str, Any]], wanted: list[str], root: str, common: dict[str, Any]
) -> str:
    """An index page of `plugins` (links relative to a page `root` deep), featured ones first."""
    shown = [{**p, "href": root + p["href"]} for p in plugins]
    by_name = {p["name"]: p for p in shown}
    feat = [by_name[n] for n in wanted if n in by_name]
    if not feat:  # showcase the most recently published when nothing is chosen
        feat = sorted(shown, key=lambda p: p["published"], reverse=True)[:4]
    return env.get_template("index.html.j2").render(
        root=root,
        plugins=shown,
        featured=feat,
        languages=sorted({p["language"] for p in shown if p["language"]}),
        tags=sorted({t for p in shown for t in p["tags"]}),
        **{**common, "package_count": len(shown)},
    )


def site_leftovers(directory: Path) -> list[Path]:
    """Temporary files of an interrupted site build (the next `build_site` removes them)."""
    out = [p for p in directory.glob(".*.tmp") if p.name.startswith((".index.html.", ".search.json."))]
    for sub in ("plugins", "assets"):
        out += (directory / sub).rglob(".*.tmp") if (directory / sub).is_dir() else []
    return sorted(out)


@contextlib.contextmanager
def site_lock(directory: Path) -> Iterator[None]:
    """The registry's lock: one writer at a time, so a build may remove another's leftovers."""
    with open(directory / LOCK_NAME, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_site(
    directory: Path,
    env: jinja2.Environment,
    plugins: list[dict[str, Any]],
    broken: list[dict[str, Any]],
    index_html: str,
    common: dict[str, Any],
    public: list[dict[str, Any]],
    listings: dict[str, str],
) -> dict[str, Any]:
    # Pages first, index.html last: the entry point never links to a page not yet written.
    for leftover in site_leftovers(directory):
        leftover.unlink(missing_ok=True)
    pages = 0
    for p in plugins:
        html = env.get_template("plugin.html.j2").render(root="../../", p=p, **common)
        atomic_write(directory / p["href"], html.encode(), fsync=False)
        pages += 1
    assets = directory / "assets"
    assets.mkdir(exist_ok=True)
    for f in (TEMPLATES / "assets").iterdir():
        tmp_copy = assets / f".{f.name}.tmp"
        shutil.copyfile(f, tmp_copy)
        tmp_copy.replace(assets / f.name)
    atomic_write(
        directory / "search.json",
        json.dumps(
            [
                {k: p[k] for k in ("name", "version", "description", "language", "tags", "perm_kinds", "href")}
                for p in public
            ],
            indent=1,
        ).encode(),
        fsync=False,
    )
    for rel, html in listings.items():
        atomic_write(directory / rel, html.encode(), fsync=False)
    atomic_write(directory / "index.html", index_html.encode(), fsync=False)
    return {
        "index": str(directory / "index.html"),
        "pages": pages,
        "plugins": len(plugins),
        "private_listings": sorted(listings),
        "unverified": [p["name"] for p in plugins if not p["verified"]],
        "errors": [p["error"] for p in broken],
    }
