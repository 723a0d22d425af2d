"""`extism-registry stats`: download figures from a real server's access log and from nginx combined logs."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from registry_static.access_log import AccessLog
from registry_static.cli import main
from registry_static.client import RegistryClient
from registry_static.index import VersionEntry
from registry_static.server import BackgroundServer
from registry_static.stats import STATS_FILE, parse_line

from . import conftest
from .conftest import Authors, Reg

IPS = ["203.0.113.7", "198.51.100.23", "2001:db8::42"]
AGENTS = ["Mozilla/5.0 (X11; Linux) SecretBrowser/9.1", "extism-platform/0.1 (tester@example.com)"]
SOLO_C = """#include "extism-pdk.h"
EXTISM_EXPORT("greet") int32_t greet(void) { extism_output((const uint8_t *)"solo", 4); return 0; }
"""


@pytest.fixture(scope="module")
def sreg(registry_template: Reg, authors: Authors, tmp_path_factory: pytest.TempPathFactory) -> Reg:
    """The test registry (whose plugins all share one module) plus `@acme/solo`, a module of its own."""
    d = tmp_path_factory.mktemp("stats")
    shutil.copytree(registry_template.dir, d / "registry")
    shutil.copytree(registry_template.keys, d / "keys")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conftest, "PLUGIN_C", SOLO_C)
        solo = conftest.build_plugin(d / "src", "@acme/solo", "1.0.0", authors.alice)
    reg = Reg(d / "registry", d / "keys")
    reg.repo().publish([solo.wasm])
    return reg


def _entry(reg: Reg, name: str, version: str) -> VersionEntry:
    idx = reg.repo().index(name)
    entry = idx.get(version) if idx else None
    assert entry is not None
    return entry


def _stats(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["stats", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _get(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_stats_of_the_servers_own_access_log(sreg: Reg, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Real installs (the platform's client, each with an empty cache) and raw requests against
    `serve`'s access log: a verified fetch of a module shared by several versions counts for the
    version fetched; HEAD, 304, 404 and the signature / plugin.json alone are not downloads."""
    log_path = tmp_path / "logs" / "access.jsonl"
    solo = _entry(sreg, "@acme/solo", "1.0.0").wasm.sha256
    sig = _entry(sreg, "greeter", "0.1.0").sig.sha256
    log = AccessLog(log_path)
    fetches = [("@acme/weather", "1.2.0")] * 3 + [
        ("@acme/weather", "1.0.0"),
        ("greeter", "0.1.0"),
        ("@acme/solo", "1.0.0"),
    ]
    with BackgroundServer(sreg.dir, access_log=log) as url:
        for i, (name, version) in enumerate(fetches):
            RegistryClient(url, tmp_path / f"cache{i}").fetch(name, version)
        assert _get(f"{url}blobs/sha256/{solo}?download=1") == 200  # a plain download of a module of its own
        assert _get(f"{url}blobs/sha256/{solo}", "HEAD") == 200  # a HEAD is not a download
        etag = urllib.request.urlopen(f"{url}blobs/sha256/{solo}", timeout=10).headers["ETag"]  # a third solo
        assert _get(f"{url}blobs/sha256/{solo}", headers={"If-None-Match": etag}) == 304  # not a download
        assert _get(f"{url}blobs/sha256/{'0' * 64}") == 404
        assert _get(f"{url}blobs/sha256/{sig}") == 200  # a signature alone: not a download
    log.close()
    lines = log_path.read_text().splitlines()
    assert len(lines) > 30 and all(set(json.loads(x)) == {"time", "method", "path", "status", "bytes"} for x in lines)
    assert "download=1" not in log_path.read_text()  # query strings are not kept
    today = datetime.now(UTC).date().isoformat()
    figures = _stats(capsys, str(log_path), "--registry", str(sreg.dir))
    assert figures["plugins"]["@acme/weather"] == {"total": 4, "versions": {"1.0.0": 1, "1.2.0": 3}, "days": {today: 4}}
    assert figures["plugins"]["greeter"]["versions"] == {"0.1.0": 1}
    assert figures["plugins"]["@acme/solo"]["versions"] == {"1.0.0": 3}
    assert figures["total"] == 8 and set(figures["plugins"]) == {"@acme/weather", "greeter", "@acme/solo"}
    assert figures["unknown_blobs"] == 0 and figures["lines"]["skipped"] == 0  # a 404 is no download at all


def _combined(ip: str, when: datetime, method: str, target: str, status: int, agent: str) -> str:
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S %z")
    return f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} 1234 "https://ref.example/" "{agent}"'


def test_stats_of_an_nginx_combined_log_with_noise(
    sreg: Reg, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A generated log: random client fetches (wasm, plugin.json, sig) over ten days, under a path
    prefix, in two time zones, mixed with HEADs, 304s, 404s, 500s, junk and a torn last line. The
    expected figures are counted from the generator, the tool's from the text."""
    rng = random.Random(12)
    versions = [
        ("@acme/weather", "1.2.0"),
        ("@acme/weather", "1.1.0"),
        ("@acme/units", "0.3.1"),
        ("greeter", "0.1.0"),
        ("@acme/solo", "1.0.0"),
    ]
    entries = {k: _entry(sreg, *k) for k in versions}
    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    want_version: Counter[tuple[str, str]] = Counter()
    want_day: Counter[tuple[str, str]] = Counter()
    lines = []
    for _ in range(300):
        key = rng.choice(versions)
        e = entries[key]
        when = start + timedelta(minutes=rng.randrange(10 * 24 * 60))
        local = when.astimezone(timezone(rng.choice([timedelta(0), timedelta(hours=-5)])))  # New York time too
        prefix = rng.choice(["/blobs/sha256/", "/registry/blobs/sha256/"])
        kind = rng.choices(["get", "range", "head", "304", "404", "500"], [60, 5, 15, 10, 5, 5])[0]
        method = "HEAD" if kind == "head" else "GET"
        status = {"get": 200, "range": 206, "head": 200, "304": 304, "404": 404, "500": 500}[kind]
        ip, agent = rng.choice(IPS), rng.choice(AGENTS)
        for blob in (e.wasm, e.plugin_json, e.sig):  # what a platform client fetches
            lines.append(_combined(ip, local, method, prefix + blob.sha256, status, agent))
        if kind in ("get", "range"):
            want_version[key] += 1
            want_day[(key[0], when.date().isoformat())] += 1
    lines += [
        _combined(IPS[0], start, "GET", "/index.html", 200, AGENTS[0]),
        _combined(IPS[1], start, "GET", "/blobs/sha256/" + "e" * 64, 200, AGENTS[1]),  # another registry's blob
        "this is not a log line",
        "",
        '203.0.113.7 - - [garbage] "GET /blobs/sha256/x HTTP/1.1" 200 1',
    ]
    rng.shuffle(lines)
    torn = _combined(IPS[2], start, "GET", "/blobs/sha256/" + entries[versions[-1]].wasm.sha256, 200, "x")[:60]
    body = [x + "\n" for x in lines] + [torn]
    log1 = tmp_path / "access.log"
    log2 = tmp_path / "access.log.1.gz"  # rotated and compressed, as logrotate leaves them
    log1.write_text("".join(body[: len(body) // 2]))
    log2.write_bytes(gzip.compress("".join(body[len(body) // 2 :]).encode()))

    figures = _stats(capsys, str(log1), str(log2), "--write", str(sreg.dir))
    assert figures["total"] == sum(want_version.values()) > 150
    for (name, version), n in want_version.items():
        assert figures["plugins"][name]["versions"][version] == n, (name, version)
    for (name, day), n in want_day.items():
        assert figures["plugins"][name]["days"][day] == n, (name, day)
    assert sum(sum(p["days"].values()) for p in figures["plugins"].values()) == figures["total"]
    assert figures["unknown_blobs"] == 1
    assert figures["lines"]["skipped"] == 4  # junk, the empty line, the bad timestamp, the torn tail

    stored = (sreg.dir / STATS_FILE).read_text()
    assert json.loads(stored)["total"] == figures["total"]
    for secret in [*IPS, *AGENTS, "ref.example", "SecretBrowser", "tester@example.com"]:
        assert secret not in stored and secret not in json.dumps(figures), secret

    since = "2026-11-25"
    later = _stats(capsys, str(log1), str(log2), "--registry", str(sreg.dir), "--since", since)
    assert later["total"] == sum(n for (_, day), n in want_day.items() if day >= since)
    assert all(day >= since for p in later["plugins"].values() for day in p["days"])


def test_stats_table_lists_plugin_versions_and_days(
    sreg: Reg, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    solo = _entry(sreg, "@acme/solo", "1.0.0").wasm.sha256
    log = tmp_path / "a.jsonl"
    log.write_text(
        "".join(
            json.dumps({"time": t, "method": "GET", "path": f"/blobs/sha256/{solo}", "status": 200, "bytes": 9}) + "\n"
            for t in ("2026-11-30T10:00:00Z", "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z")
        )
    )
    assert main(["stats", str(log), "--registry", str(sreg.dir)]) == 0
    out = capsys.readouterr().out
    assert (
        "@acme/solo  1.0.0" in out and "2026-12-01          2" in out and "3 downloads, 2026-11-30 to 2026-12-01" in out
    )


def test_stats_bad_since_is_a_one_line_error(reg: Reg, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.log").write_text("")
    assert main(["stats", str(tmp_path / "a.log"), "--registry", str(reg.dir), "--since", "yesterday"]) == 2
    assert "--since 'yesterday': expected a date" in capsys.readouterr().err


def test_stats_missing_log_names_the_file(reg: Reg, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", str(tmp_path / "nope.log"), "--registry", str(reg.dir)]) == 1
    err = capsys.readouterr().err
    assert "nope.log: cannot read the access log" in err and "Traceback" not in err


def test_access_log_rotates_and_stays_bounded(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "access.jsonl", max_bytes=4096, keep=2)
    for i in range(500):
        log.record("GET", f"/blobs/sha256/{i:064x}", 200, i)
    log.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["access.jsonl", "access.jsonl.1", "access.jsonl.2"]
    assert all(f.stat().st_size <= 4096 for f in files)
    kept = [parse_line(x) for f in files for x in f.read_text().splitlines()]
    assert kept and all(r is not None and r.status == 200 for r in kept)  # whole lines only, never torn
    newest = json.loads((tmp_path / "access.jsonl").read_text().splitlines()[-1])
    assert newest["path"].endswith(f"{499:064x}")


def test_access_log_keeps_no_client_address_or_agent(reg: Reg, tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "access.jsonl")
    with BackgroundServer(reg.dir, access_log=log) as url:
        _get(
            url + "metadata/timestamp.json",
            headers={"User-Agent": "SecretBrowser/9.1", "Referer": "https://ref.example/"},
        )
    log.close()
    text = (tmp_path / "access.jsonl").read_text()
    assert "127.0.0.1" not in text and "SecretBrowser" not in text and "ref.example" not in text
    assert json.loads(text)["path"] == "/metadata/timestamp.json"
