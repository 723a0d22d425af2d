"""The generated site: its pages, and a real headless Chromium typing into the search box."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from registry_static.server import BackgroundServer
from registry_static.site import build_site
from tests.conftest import ROOT

from .cdp import Browser, find_chromium
from .conftest import Reg

SHOTS = ROOT / "build" / "registry"


@pytest.fixture(scope="module")
def site(registry_template: Reg, tmp_path_factory: pytest.TempPathFactory) -> Reg:
    import shutil

    d = tmp_path_factory.mktemp("site")
    shutil.copytree(registry_template.dir, d / "registry")
    shutil.copytree(registry_template.keys, d / "keys")
    reg = Reg(d / "registry", d / "keys")
    reg.repo().yank("@acme/weather", "1.0.0")
    reg.repo().deprecate("@acme/weather", "1.1.0", "please use 1.2")
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
