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
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from plugin_format.errors import RegistryError
from plugin_format.files import atomic_write
from plugin_format.semver import Version
from registry_static.client import RegistryClient, normalize_url
from registry_static.layout import LOCK_NAME, folded, role_name, scope_label, split_name
from registry_static.pages import copy_assets, downloads_view, jinja_env, plugin_view, render_plugin_page
from registry_static.repository import Repository, private_scopes
from registry_static.stats import STATS_FILE


def _page(name: str) -> str:
    return f"plugins/{folded(name)}.html"


def read_stats(directory: Path) -> dict[str, Any] | None:
    """The download figures `extism-registry stats --write` left in the registry, if any."""
    path = Path(directory) / STATS_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RegistryError(
            f"{path}: unreadable download figures ({exc}); rerun `extism-registry stats --write`"
        ) from None
    return doc if isinstance(doc, dict) else None


def build_site(directory: Path, *, featured: list[str] | None = None, root: bytes | None = None) -> dict[str, Any]:
    """Write index.html, plugins/**.html and assets/ into the registry directory; return a summary."""
    directory = Path(directory)
    repo = Repository(directory, keys_dir=Path("/nonexistent"))
    env = jinja_env()
    stats = read_stats(directory)
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
            examples: dict[str, list[dict[str, Any]]] = {}
            for info in infos:
                try:
                    fetched = client.fetch(name, info.version)
                    versions.append({**info.to_dict(), "verified": True, "error": ""})
                    examples[info.version] = list(fetched.manifest.get("examples") or [])
                except RegistryError as exc:
                    versions.append({**info.to_dict(), "verified": False, "error": str(exc)})
            scope, _ = split_name(name)
            try:
                advisories = client.scope_advisories(scope or "_").for_package(name)
            except RegistryError:
                advisories = []
            for v in versions:
                v["advisories"] = [a.to_dict() for a in advisories if a.affects(v["version"])]
            # the page shows the newest release: not yanked, and not a pre-release unless there is nothing else
            live = (
                [v for v in versions if not v["yanked"] and not Version.parse(v["version"]).is_prerelease]
                or [v for v in versions if not v["yanked"]]
                or versions
            )
            latest = max(live, key=lambda v: Version.parse(v["version"]))
            readme = client.readme(name, latest["version"])
            view = plugin_view(
                latest,
                readme=readme,
                examples=examples.get(latest["version"]),
                versions=sorted(versions, key=lambda v: Version.parse(v["version"]), reverse=True),
                downloads=downloads_view(stats, name),
            )
            view.update(
                href=_page(name),
                role=role_name(scope),
                search_text=" ".join(
                    [
                        name,
                        latest["description"],
                        latest["language"],
                        *latest["tags"],
                        *(e.get("name", "") + " " + e.get("description", "") for e in latest["exports"]),
                    ]
                ).lower(),
            )
            plugins.append(view)
    broken = [p for p in plugins if "error" in p and "version" not in p]
    plugins = [p for p in plugins if "version" in p]
    by_name = {p["name"]: p for p in plugins}
    for p in plugins:
        for d in p["dependencies"]:
            d["href"] = ("../../" + by_name[d["name"]]["href"]) if d["name"] in by_name else ""
    private = set(private_scopes(repo.config))
    public = [p for p in plugins if split_name(p["name"])[0] not in private]
    wanted = featured if featured is not None else list(repo.config.get("featured") or [])
    common = {"registry_name": repo.title, "generated": generated, "package_count": len(public)}
    # Anonymous visitors see only public scopes; each private scope gets its own listing, served only
    # with a token that may read it (registry_static.access).
    index_html = _listing(env, public, wanted, "", common)
    listings = {
        f"scopes/{scope}/index.html": _listing(
            env,
            [p for p in plugins if split_name(p["name"])[0] == scope],
            wanted,
            "../../",
            {**common, "registry_name": f"{repo.title} — {scope_label(scope)}"},
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
    # The showcase is what the registry's owner chose (registry.json `featured`, or --featured): no
    # choice, no showcase — listing everything there would feature nothing.
    feat = [by_name[n] for n in wanted if n in by_name]
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
        html = render_plugin_page(env, p, root="../../", common=common)
        atomic_write(directory / p["href"], html.encode(), fsync=False)
        pages += 1
    copy_assets(directory)
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
