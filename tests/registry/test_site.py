"""The generated site: its pages, and a real headless Chromium typing into the search box."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from registry_static.cli import main as registry_main
from registry_static.pages import jinja_env, plugin_view, render_plugin_page, version_notes
from registry_static.server import BackgroundServer
from registry_static.site import build_site
from tests.conftest import ROOT

from .cdp import Browser, find_chromium
from .conftest import Reg

SHOTS = ROOT / "build" / "registry"
SCREENSHOTS = ROOT / "build" / "site-screenshots"
WIDTHS = (390, 1280)


@pytest.fixture(scope="module")
def site(registry_template: Reg, tmp_path_factory: pytest.TempPathFactory) -> Reg:
    import shutil

    d = tmp_path_factory.mktemp("site")
    shutil.copytree(registry_template.dir, d / "registry")
    shutil.copytree(registry_template.keys, d / "keys")
    reg = Reg(d / "registry", d / "keys")
    reg.repo().yank("@acme/weather", "1.0.0")
    reg.repo().deprecate("@acme/weather", "1.1.0", "please use 1.2")
    reg.repo().add_advisory(
        "@acme/weather", affected="<1.2.0", severity="high", summary="leaks the api key", advisory_id="ACME-2026-1"
    )
    summary = build_site(reg.dir, featured=["@acme/weather", "@beta/tool"])
    assert summary["plugins"] == 4 and summary["unverified"] == [] and summary["errors"] == []
    return reg


def test_plugin_page_shows_what_a_user_needs(site: Reg) -> None:
    html = (site.dir / "plugins" / "acme" / "weather.html").read_text()
    assert "Current weather for a city" in html and "v1.2.0" in html
    assert "Input schema" in html and '"name": {' in html and '"type": "string"' in html
    assert "api.weather.example" in html and "<code>api_key</code>" in html
    assert re.search(r'class="yanked"><td><code>1\.0\.0</code>', html) and "please use 1.2" in html
    assert 'href="../../plugins/acme/units.html"' in html and "^0.3" in html
    unescaped = html.replace("&#34;", '"')
    assert 'extism-mcp-server --registry <span class="registry-url">' in html
    assert '--plugin "@acme/weather@^1.2.0"' in unescaped and "extism-registry fetch" in html
    assert "signature verified" in html and "scope-acme" in html
    # the signed advisory, on the versions it affects only
    assert "ACME-2026-1" in html and "leaks the api key" in html
    row_120 = re.search(r"<tr[^>]*><td><code>1\.2\.0</code>.*?</tr>", html, re.S)
    assert row_120 and "ACME-2026-1" not in row_120.group(0)
    assert "<strong>test</strong>" in html and "<table>" in html
    assert "<script>alert(1)</script>" not in html  # README HTML is escaped, not run
    assert (site.dir / "plugins" / "_" / "greeter.html").is_file()


def test_index_lists_every_plugin_with_filter_data(site: Reg) -> None:
    html = (site.dir / "index.html").read_text()
    assert html.count('class="plugin-card"') == 4 and 'id="search"' in html and "Test plugins" in html
    assert 'data-permissions="network config"' in html and 'data-tags="math"' in html
    assert 'class="feature"' in html
    assert [p["name"] for p in json.loads((site.dir / "search.json").read_text())] == [
        "@acme/units",
        "@acme/weather",
        "@beta/tool",
        "greeter",
    ]


def _visible(b: Browser) -> list[str]:
    return b.eval("[...document.querySelectorAll('.plugin-card')].filter(c => !c.hidden).map(c => c.dataset.name)")


def _select(b: Browser, sel: str, value: str) -> None:
    b.eval(
        f"(() => {{ const s = document.querySelector('{sel}'); s.value = '{value}';"
        " s.dispatchEvent(new Event('change')); })()"
    )


@pytest.mark.skipif(find_chromium() is None, reason="Debian chromium is not installed (apt-get install -y chromium)")
def test_search_and_filters_in_headless_chromium(site: Reg) -> None:
    with BackgroundServer(site.dir) as url:
        browser = Browser(find_chromium() or "chromium")
        try:
            browser.goto(url + "index.html")
            assert _visible(browser) == ["@acme/units", "@acme/weather", "@beta/tool", "greeter"]
            browser.type("#search", "weather")
            assert _visible(browser) == ["@acme/weather"]
            assert browser.eval("document.getElementById('result-count').textContent") == "1 plugin of 4"
            browser.eval(
                "(() => { const s = document.getElementById('search'); s.value = '';"
                " s.dispatchEvent(new Event('input')); })()"
            )
            _select(browser, "#filter-permission", "none")
            assert _visible(browser) == ["@acme/units", "greeter"]
            _select(browser, "#filter-permission", "")
            _select(browser, "#filter-tag", "files")
            assert _visible(browser) == ["@beta/tool"]
            _select(browser, "#filter-tag", "")
            browser.type("#search", "zzz-nothing")
            assert _visible(browser) == [] and browser.eval("!document.getElementById('no-results').hidden")
            browser.eval(
                "(() => { const s = document.getElementById('search'); s.value = '';"
                " s.dispatchEvent(new Event('input')); })()"
            )
            browser.type("#search", "acme")
            assert _visible(browser) == ["@acme/units", "@acme/weather"]
            browser.screenshot(SHOTS / "site-index.png")
            browser.goto(url + "plugins/acme/weather.html")
            assert browser.eval("document.querySelector('h1').textContent").startswith("@acme/weather")
            browser.screenshot(SHOTS / "site-plugin.png")
        finally:
            browser.close()
    assert (SHOTS / "site-index.png").stat().st_size > 10_000


def test_site_works_from_file_url(site: Reg) -> None:
    html = (site.dir / "index.html").read_text()
    assert 'href="assets/site.css"' in html and 'src="assets/site.js"' in html and "http://" not in html
    assert Path(site.dir / "assets" / "site.js").is_file()


@pytest.fixture(scope="module")
def shown(registry_template: Reg, tmp_path_factory: pytest.TempPathFactory) -> Reg:
    """The registry as its owner would show it: a title and a showcase set with `config`, download
    figures from `stats --write`, a yanked and a deprecated version, the site built by the CLI."""
    import shutil

    d = tmp_path_factory.mktemp("shown")
    shutil.copytree(registry_template.dir, d / "srv-acme-7")
    shutil.copytree(registry_template.keys, d / "keys")
    reg = Reg(d / "srv-acme-7", d / "keys")  # a directory name that must not become the title
    reg.repo().yank("@acme/weather", "1.0.0")
    reg.repo().deprecate("@acme/weather", "1.1.0", "please use 1.2")
    d_ = reg.dir
    assert registry_main(["config", str(d_), "--title", "Acme plugin registry", "--featured", "@acme/weather"]) == 0
    pj = {v: reg.repo().index("@acme/weather").get(v).plugin_json.sha256 for v in ("1.1.0", "1.2.0")}  # type: ignore[union-attr]
    log = d / "access.jsonl"
    log.write_text(
        "".join(
            json.dumps(
                {
                    "time": f"2026-11-{day:02d}T12:00:00Z",
                    "method": "GET",
                    "path": f"/blobs/sha256/{pj[v]}",
                    "status": 200,
                    "bytes": 1,
                }
            )
            + "\n"
            for day, v, n in ((3, "1.1.0", 2), (10, "1.2.0", 5), (28, "1.2.0", 9))
            for _ in range(n)
        )
    )
    assert registry_main(["stats", str(log), "--write", str(d_)]) == 0
    assert registry_main(["site", str(d_)]) == 0
    return reg


def test_title_and_showcase_come_from_the_registry_config(shown: Reg, site: Reg) -> None:
    html = (shown.dir / "index.html").read_text()
    assert "<title>Acme plugin registry</title>" in html and shown.dir.name not in html
    assert html.count('class="feature"') == 1 and 'href="plugins/acme/weather.html"' in html
    assert "<title>Test plugins</title>" in (site.dir / "index.html").read_text()  # init --name


def test_no_showcase_unless_chosen(reg: Reg) -> None:
    build_site(reg.dir)
    html = (reg.dir / "index.html").read_text()
    assert 'class="feature"' not in html and html.count('class="plugin-card"') == 4


def test_plugin_page_install_snippets_versions_and_downloads(shown: Reg) -> None:
    html = (shown.dir / "plugins" / "acme" / "weather.html").read_text().replace("&#34;", '"')
    for snippet in (
        'default: <span class="registry-url">',
        '"@acme/weather": "^1.2.0"',
        'grants:\n  "@acme/weather": {hosts: [api.weather.example], config: {api_key: "${API_KEY}"}}',
        "extism-plugin add @acme/weather",
        '--plugin "@acme/weather@^1.2.0"',
        "import { MCPClient } from '@mastra/mcp';",
        "'--plugin', '@acme/weather@^1.2.0'",
    ):
        assert snippet.replace("'", "&#39;") in html or snippet in html, snippet
    assert "dist/" not in html and "-0.1.0.wasm" not in html  # nothing of a build directory
    assert re.search(r'class="yanked"><td><code>1\.0\.0</code>.*?badge bad">yanked', html, re.S)
    assert "please use 1.2" in html
    assert "<strong>16</strong>" in html and "downloads-chart" in html and "<svg" in html
    assert "2026-11-28: 9</title>" in html and "<script src=" not in html.split("downloads-chart")[1].split("</svg>")[0]


def test_version_status_renders_advisories_and_permission_changes() -> None:
    """The advisories and permission changes an index may carry, rendered where each version is listed
    (and a malformed entry shown as far as it reads, not breaking the page)."""
    base = {
        "name": "@acme/weather",
        "version": "1.2.0",
        "exports": [],
        "permissions": {},
        "key_id": "k" * 64,
        "sha256": "0" * 64,
        "size": 1,
        "verified": True,
        "published": "2026-11-01T00:00:00Z",
    }
    versions = [
        {
            **base,
            "version": "1.2.0",
            "yanked": False,
            "deprecated": None,
            "verified": True,
            "permission_diff": {"added": {"hosts": ["api.new.example"]}, "removed": {"config": ["old_key"]}},
        },
        {
            **base,
            "version": "1.1.0",
            "yanked": True,
            "deprecated": None,
            "verified": True,
            "advisories": [
                {
                    "id": "EXT-2026-0001",
                    "severity": "HIGH",
                    "summary": "leaks the key",
                    "fixed": "1.2.0",
                    "url": "javascript:alert(1)",
                },
                42,
                "EXT-2026-0002",
            ],
        },
    ]
    assert version_notes({"advisories": "nonsense", "permission_diff": 7}) == {
        "advisories": [],
        "permission_changes": [],
    }
    p = plugin_view(base, versions=versions)
    html = render_plugin_page(
        jinja_env(), p, root="../../", common={"registry_name": "R", "generated": "", "package_count": 1}
    )
    assert "EXT-2026-0001" in html and "· high" in html and "leaks the key" in html and "(fixed in 1.2.0)" in html
    assert "EXT-2026-0002" in html and "javascript:" not in html
    assert "+ hosts: api.new.example" in html and "− config: old_key" in html


def _overflow(b: Browser) -> dict:
    return b.eval(
        "(() => ({page: document.documentElement.scrollWidth, inner: innerWidth,"
        " boxes: [...document.querySelectorAll('.install pre')].map(p => [p.scrollWidth, p.clientWidth]),"
        " wide: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5"
        "   && !e.closest('.table-scroll, pre, details:not([open])'))"
        "   .map(e => e.tagName + '.' + e.className).slice(0, 5)}))()"
    )


@pytest.mark.skipif(find_chromium() is None, reason="Debian chromium is not installed (apt-get install -y chromium)")
def test_layout_fits_390_and_1280_px_in_headless_chromium(shown: Reg) -> None:
    """No horizontal overflow at a phone's and a laptop's width (the page's scrollWidth, measured),
    install commands wrap inside their box; screenshots kept in build/site-screenshots/."""
    with BackgroundServer(shown.dir) as url:
        browser = Browser(find_chromium() or "chromium")
        try:
            for width in WIDTHS:
                browser.set_viewport(width, 900, mobile=width < 600)
                for page, shot in (("index.html", "index"), ("plugins/acme/weather.html", "plugin")):
                    browser.goto(url + page)
                    m = _overflow(browser)
                    assert m["inner"] == width, m
                    assert m["page"] <= m["inner"], (page, width, m)
                    assert m["wide"] == [], (page, width, m)
                    assert all(sw <= cw for sw, cw in m["boxes"]), (page, width, m["boxes"])
                    if shot == "plugin":
                        assert len(m["boxes"]) == 5
                        assert browser.eval("document.querySelector('.registry-url').textContent") == url.rstrip("/")
                    browser.screenshot(SCREENSHOTS / f"{shot}-{width}.png")
        finally:
            browser.close()
    for width in WIDTHS:
        assert (SCREENSHOTS / f"index-{width}.png").stat().st_size > 5_000
