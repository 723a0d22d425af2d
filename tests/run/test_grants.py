"""Grants: parsing (extism.yaml and --grant), host patterns, and the requested ∩ granted rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from extism_platform.grants import (
    Grant,
    combine,
    effective,
    grant_for,
    grants_from_options,
    host_allowed,
    host_covers,
    load_grants,
    parse_grant_option,
)
from plugin_format.errors import GrantError
from plugin_format.manifest import Permissions


@pytest.mark.parametrize(
    ("pattern", "target", "ok"),
    [
        ("api.example.com", "api.example.com", True),
        ("api.example.com", "API.example.com", True),
        ("api.example.com", "evil.example.com", False),
        ("*.example.com", "api.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "*.x.example.com", True),
        ("api.example.com:8080", "api.example.com:8080", True),
        ("api.example.com:8080", "api.example.com:9090", False),
    ],
)
def test_host_covers(pattern: str, target: str, ok: bool) -> None:
    assert host_covers(pattern, target) is ok


def test_host_allowed_ports() -> None:
    assert not host_allowed(["127.0.0.1"], "127.0.0.1", 8080)  # no port in the pattern: the scheme's
    assert host_allowed(["127.0.0.1"], "127.0.0.1", None, "http") and host_allowed(["h"], "h", 443, "https")
    assert host_allowed(["127.0.0.1:*"], "127.0.0.1", 8080) and host_allowed(["127.0.0.1:8080"], "127.0.0.1", 8080)
    assert not host_allowed(["127.0.0.1:1"], "127.0.0.1", 8080)
    assert not host_allowed([], "127.0.0.1", None)


def test_parse_grant_options() -> None:
    assert parse_grant_option("@a/b:host=x.example") == ("@a/b", Grant(hosts=("x.example",)))
    assert parse_grant_option("@a/b:config.api_key=k=v")[1].config == {"api_key": "k=v"}
    assert parse_grant_option("p:path=/srv:rw")[1].paths == {"/srv": "rw"}
    assert parse_grant_option("*:requested") == ("*", Grant(requested=True))
    assert parse_grant_option("p:timeout_ms=50")[1].timeout_ms == 50
    merged = grants_from_options(["p:host=a", "p:host=b", "p:host_function=kv"])
    assert merged["p"].hosts == ("a", "b") and merged["p"].host_functions == ("kv",)


@pytest.mark.parametrize("bad", ["nocolon", "p:", "p:host", "p:colour=red", "p:memory_mib=lots"])
def test_parse_grant_option_errors_are_one_line(bad: str) -> None:
    with pytest.raises(GrantError) as exc:
        parse_grant_option(bad)
    assert "\n" not in str(exc.value) and "--grant" in str(exc.value)


def test_load_grants(tmp_path: Path) -> None:
    f = tmp_path / "extism.yaml"
    f.write_text(
        'registries: {default: "file:///r"}\ngrants:\n  "@acme/weather": {hosts: [api.weather.example], '
        'config: {api_key: "${WX_KEY}"}, memory_mib: 8}\n  "@acme/units": {requested: true}\n'
    )
    grants = load_grants(f)
    assert grants["@acme/weather"].hosts == ("api.weather.example",)
    assert grants["@acme/weather"].config == {"api_key": "${WX_KEY}"}
    assert grants["@acme/units"].requested
    f.write_text("grants:\n  p: {hostz: [a]}\n")
    with pytest.raises(GrantError, match=r"grants\.p: unknown field\(s\) hostz"):
        load_grants(f)


def test_effective_is_the_intersection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WX_KEY", "s3cret")
    requested = Permissions(
        hosts=("api.weather.example", "other.example"),
        config=("api_key", "units"),
        host_functions=("kv", "log"),
        memory_mib=32,
        timeout_ms=5000,
    )
    grant = Grant(
        hosts=("*.weather.example", "not-requested.example"),
        config={"api_key": "${WX_KEY}", "extra": "x"},
        host_functions=("log", "context"),
        memory_mib=16,
    )
    eff = effective("@acme/weather", requested, grant)
    assert eff.hosts == ("api.weather.example",)
    assert eff.config == {"api_key": "s3cret"}
    assert eff.host_functions == {"log_event"}
    assert (eff.memory_mib, eff.timeout_ms) == (16, 5000)  # a grant lowers a limit, never raises it
    denied = {(d.capability, d.value) for d in eff.decisions if not d.allowed}
    assert denied == {("host", "other.example"), ("config", "units"), ("host_function", "kv")}
    assert eff.missing_config["units"] == ""  # not granted: the host's hints say how


def test_effective_env_reference_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WX_KEY", raising=False)
    eff = effective("p", Permissions(config=("api_key",)), Grant(config={"api_key": "${WX_KEY}"}))
    assert eff.config == {} and "set the environment variable WX_KEY" in eff.missing_config["api_key"]


def test_default_deny_and_star_grant() -> None:
    requested = Permissions(hosts=("a.example",), host_functions=("kv",))
    assert effective("p", requested, Grant()).hosts == ()
    grants = combine({"*": Grant(requested=True)}, {"p": Grant(memory_mib=1)})
    eff = effective("p", requested, grant_for(grants, "p"))
    assert eff.hosts == ("a.example",) and eff.memory_mib == 1 and "kv_get" in eff.host_functions
