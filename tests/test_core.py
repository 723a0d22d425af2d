"""The plugin-format core: one rule per concept, the schema and the parsers agreeing."""

from __future__ import annotations

import jsonschema
import pytest

from plugin_format import names
from plugin_format.errors import ManifestError, SemverError
from plugin_format.manifest import plugin_schema
from plugin_format.semver import VERSION_PATTERN, Version, bump, to_pep440

VERSIONS = [
    ("1.2.3", True),
    ("1.2.3-rc.1", True),
    ("1.2.3-alpha.10+build.5", True),
    ("0.0.0-0", True),
    ("1.2", False),
    ("01.2.3", False),
    ("1.2.3-01", False),  # semver: numeric identifiers have no leading zeros
    ("1\u0661.0.0", False),  # an Arabic-Indic digit: ASCII digits only
    ("v1.2.3", False),
    ("1.2.3-", False),
]


def test_schema_uses_the_parsers_patterns() -> None:
    props = plugin_schema()["properties"]
    assert props["version"]["pattern"] == VERSION_PATTERN
    assert props["name"]["pattern"] == names.NAME_PATTERN
    assert props["dependencies"]["propertyNames"]["pattern"] == names.NAME_PATTERN


@pytest.mark.parametrize(("text", "ok"), VERSIONS)
def test_schema_and_parser_accept_the_same_versions(text: str, ok: bool) -> None:
    schema_ok = jsonschema.Draft202012Validator(plugin_schema()["properties"]["version"]).is_valid(text)
    try:
        Version.parse(text)
        parser_ok = True
    except SemverError:
        parser_ok = False
    assert (schema_ok, parser_ok) == (ok, ok)


def test_prerelease_order_is_numeric() -> None:
    assert Version.parse("1.0.0-alpha.10") > Version.parse("1.0.0-alpha.2") > Version.parse("1.0.0-alpha")
    assert Version.parse("1.0.0") > Version.parse("1.0.0-rc.1")


# npm's `semver.inc(version, release, identifier)` on the same inputs gives these.
@pytest.mark.parametrize(
    ("start", "kind", "preid", "want"),
    [
        ("1.2.3", "major", None, "2.0.0"),
        ("1.0.0-rc.1", "major", None, "1.0.0"),
        ("1.2.0-rc.1", "major", None, "2.0.0"),
        ("1.2.3", "minor", None, "1.3.0"),
        ("1.3.0-rc.1", "minor", None, "1.3.0"),
        ("1.2.3-rc.1", "minor", None, "1.3.0"),
        ("1.2.3", "patch", None, "1.2.4"),
        ("1.2.3-rc.1", "patch", None, "1.2.3"),
        ("1.2.3", "premajor", "rc", "2.0.0-rc.0"),
        ("1.2.3", "preminor", None, "1.3.0-0"),
        ("1.2.3", "prepatch", "beta", "1.2.4-beta.0"),
        ("1.2.3", "prerelease", None, "1.2.4-0"),
        ("1.2.3-rc.1", "prerelease", None, "1.2.3-rc.2"),
        ("1.2.3-alpha.4", "prerelease", "beta", "1.2.3-beta.0"),
        ("1.2.3-alpha", "prerelease", None, "1.2.3-alpha.0"),
        ("1.2.3-4", "prerelease", None, "1.2.3-5"),
        ("1.2.3+build.7", "patch", None, "1.2.4"),
        ("1.2.3-rc.1", "release", None, "1.2.3"),
        ("1.2.3", "rc", None, "1.2.4-rc.0"),  # hatch's words map to pre-release identifiers
        ("1.2.3", "micro", None, "1.2.4"),
    ],
)
def test_bump_follows_npm_semver_inc(start: str, kind: str, preid: str | None, want: str) -> None:
    assert str(bump(Version.parse(start), kind, preid)) == want


def test_bump_unknown_kind_names_the_choices() -> None:
    with pytest.raises(SemverError, match="'post' is not a version bump"):
        bump(Version.parse("1.0.0"), "post")


@pytest.mark.parametrize(
    ("semver", "pep440"),
    [("1.2.3", "1.2.3"), ("1.2.3-rc.1", "1.2.3rc1"), ("1.2.3-alpha", "1.2.3a0"), ("1.2.3-4", "1.2.3.dev4")],
)
def test_python_packaging_spelling(semver: str, pep440: str) -> None:
    assert to_pep440(Version.parse(semver)) == pep440


def test_unexpressible_prerelease_is_a_clear_error() -> None:
    with pytest.raises(SemverError, match="-alpha.N, -beta.N, -rc.N or -N"):
        to_pep440(Version.parse("1.0.0-nightly.2.x"))


@pytest.mark.parametrize(
    ("name", "fold", "ident"),
    [("@acme/weather", "acme-weather", "acme_weather"), ("greeter", "greeter", "greeter")],
)
def test_one_fold(name: str, fold: str, ident: str) -> None:
    assert names.fold(name) == fold and names.identifier(name) == ident
    assert names.python_package(name) == f"extism_plugins.{ident}"


@pytest.mark.parametrize("bad", ["Acme", "@acme/", "a_b", "-a", "a-", "@/a", "x" * 65, "@acme/weather/x", "ä"])
def test_invalid_names_are_refused_with_the_rule(bad: str) -> None:
    assert not names.is_valid(bad)
    with pytest.raises(ManifestError, match="lowercase letters, digits and '-'"):
        names.check(bad, "plugin.yaml: name")
