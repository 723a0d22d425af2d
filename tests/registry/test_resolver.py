"""The resolver's dense logic against an in-memory version source (no registry, no I/O)."""

from __future__ import annotations

import pytest

from plugin_format.errors import ResolveError
from registry_static.resolver import MemorySource, Resolver


def solve(packages: dict, wanted: dict, *, yanked: tuple[str, ...] = (), locked: dict | None = None) -> dict:
    got = Resolver(MemorySource(packages, yanked), locked=locked).resolve(wanted)
    return {name: str(c.version) for name, c in got.items()}


def explain(packages: dict, wanted: dict, **kw: object) -> list[str]:
    with pytest.raises(ResolveError) as exc:
        solve(packages, wanted, **kw)
    return str(exc.value).splitlines()


def test_highest_matching_and_transitive() -> None:
    pkgs = {"a": {"1.0.0": {"b": "^1"}, "1.2.0": {"b": "^1.1"}, "2.0.0": {}}, "b": {"1.0.0": {}, "1.1.3": {}}}
    assert solve(pkgs, {"a": "^1"}) == {"a": "1.2.0", "b": "1.1.3"}
    assert solve(pkgs, {"a": "*"}) == {"a": "2.0.0"}  # b is not needed by 2.0.0


def test_diamond_dependency_agrees_on_one_version() -> None:
    pkgs = {
        "app": {"1.0.0": {"left": "^1", "right": "^1"}},
        "left": {"1.0.0": {"base": ">=1.1"}},
        "right": {"1.0.0": {"base": "<1.3"}},
        "base": {"1.0.0": {}, "1.1.0": {}, "1.2.5": {}, "1.3.0": {}},
    }
    assert solve(pkgs, {"app": "1"}) == {"app": "1.0.0", "left": "1.0.0", "right": "1.0.0", "base": "1.2.5"}


def test_backtracks_to_an_older_version_that_fits() -> None:
    # x 1.2.0 needs y ^2, which clashes with extism.yaml's y ^1: x 1.1.0 is chosen instead.
    pkgs = {"x": {"1.1.0": {"y": "^1"}, "1.2.0": {"y": "^2"}}, "y": {"1.0.0": {}, "1.4.0": {}, "2.0.0": {}}}
    assert solve(pkgs, {"x": "^1", "y": "^1"}) == {"x": "1.1.0", "y": "1.4.0"}


def test_backtracks_over_an_earlier_choice() -> None:
    # base is chosen (2.0.0) before `top` reveals that only base 1.x works with it.
    pkgs = {
        "base": {"1.0.0": {}, "2.0.0": {}},
        "top": {"1.0.0": {"base": "^1"}},
        "mid": {"1.0.0": {"top": "^1"}},
    }
    assert solve(pkgs, {"base": "*", "mid": "^1"}) == {"base": "1.0.0", "mid": "1.0.0", "top": "1.0.0"}


def test_conflict_is_explained_one_step_per_line() -> None:
    pkgs = {"@a/x": {"1.0.0": {"@a/y": "^2"}, "1.2.0": {"@a/y": "^2"}}, "@a/y": {"1.0.0": {}, "2.0.0": {}}}
    lines = explain(pkgs, {"@a/x": "^1", "@a/y": "^1"})
    assert lines == [
        "cannot resolve extism.yaml: conflicting requirements for @a/y",
        "  extism.yaml wants @a/y ^1",
        "  extism.yaml wants @a/x ^1",
        "    @a/x 1.2.0 needs @a/y ^2",
        "  no version of @a/y matches ^1 and ^2 (available: 1.0.0, 2.0.0)",
        "  also tried @a/x 1.0.0: it conflicts too",
    ]


def test_deep_chain_conflict_with_an_earlier_choice() -> None:
    pkgs = {
        "app": {"1.1.0": {"units": "^0.4", "weather": "^1"}},
        "weather": {"1.2.0": {"units": "^0.3"}},
        "units": {"0.3.1": {}, "0.4.0": {}},
    }
    lines = explain(pkgs, {"app": "1.1.0"})
    assert lines[0] == "cannot resolve extism.yaml: conflicting requirements for units"
    assert lines[1:5] == [
        "  extism.yaml wants app 1.1.0",
        "    app 1.1.0 needs units ^0.4",
        "    app 1.1.0 needs weather ^1",
        "      weather 1.2.0 needs units ^0.3",
    ]
    assert "no version of units matches ^0.4 and ^0.3 (available: 0.3.1, 0.4.0)" in lines[5]


def test_missing_versions_and_packages() -> None:
    lines = explain({"a": {"1.0.0": {}}}, {"a": "^2"})
    assert lines == [
        "cannot resolve extism.yaml: no version of a matches ^2",
        "  extism.yaml wants a ^2",
        "  no version of a matches ^2 (available: 1.0.0)",
    ]
    lines = explain({"a": {"1.0.0": {"ghost": "^1"}}}, {"a": "1"})
    assert lines[0] == "cannot resolve extism.yaml: no plugin named 'ghost'"
    assert lines[1:] == ["  extism.yaml wants a 1", "  a 1.0.0 needs ghost ^1"]


def test_yanked_never_chosen_unless_locked() -> None:
    pkgs = {"a": {"1.0.0": {}, "1.1.0": {}}}
    assert solve(pkgs, {"a": "^1"}, yanked=("a@1.1.0",)) == {"a": "1.0.0"}
    assert solve(pkgs, {"a": "^1"}, yanked=("a@1.1.0",), locked={"a": "1.1.0"}) == {"a": "1.1.0"}
    lines = explain(pkgs, {"a": "1.1.0"}, yanked=("a@1.1.0",))
    assert lines[-1] == "  no version of a matches 1.1.0 (available: 1.0.0; yanked: 1.1.0)"


def test_locked_versions_win_while_they_satisfy() -> None:
    pkgs = {"a": {"1.0.0": {"b": "^1"}, "1.3.0": {"b": "^1"}}, "b": {"1.0.0": {}, "1.9.0": {}}}
    assert solve(pkgs, {"a": "^1"}, locked={"a": "1.0.0", "b": "1.0.0"}) == {"a": "1.0.0", "b": "1.0.0"}
    # the lock no longer satisfies extism.yaml: that one is re-resolved, the other kept
    assert solve(pkgs, {"a": "^1.1"}, locked={"a": "1.0.0", "b": "1.0.0"}) == {"a": "1.3.0", "b": "1.0.0"}


def test_prereleases_only_when_the_range_names_one() -> None:
    pkgs = {"a": {"1.0.0": {}, "2.0.0-rc.1": {}}, "b": {"1.0.0": {"a": "^2.0.0-rc.1"}}}
    assert solve(pkgs, {"a": "*"}) == {"a": "1.0.0"}
    assert solve(pkgs, {"a": ">=1"}) == {"a": "1.0.0"}
    assert solve(pkgs, {"b": "^1"}) == {"b": "1.0.0", "a": "2.0.0-rc.1"}


def test_cycles_and_self_consistency() -> None:
    pkgs = {"a": {"1.0.0": {"b": "^1"}}, "b": {"1.0.0": {"a": "^1"}}}
    assert solve(pkgs, {"a": "*"}) == {"a": "1.0.0", "b": "1.0.0"}


def test_each_index_is_read_once_and_search_is_bounded() -> None:
    pkgs = {"a": {f"1.{i}.0": {"b": "^1"} for i in range(30)}, "b": {f"1.{i}.0": {"c": "^9"} for i in range(30)}}
    pkgs["c"] = {"1.0.0": {}}
    src = MemorySource(pkgs)
    with pytest.raises(ResolveError) as exc:
        Resolver(src, max_steps=100).resolve({"a": "^1"})
    assert "no version of c matches ^9" in str(exc.value)
    assert sorted(src.calls) == ["a", "b", "c"]
    pkgs["c"]["9.0.0"] = {}
    assert solve(pkgs, {"a": "^1"})["c"] == "9.0.0"


def test_invalid_ranges_are_named() -> None:
    with pytest.raises(ResolveError, match=r"plugins\.a: range 'one'"):
        solve({"a": {"1.0.0": {}}}, {"a": "one"})
    with pytest.raises(ResolveError, match=r"a 1\.0\.0 needs b \?\?, an invalid range"):
        solve({"a": {"1.0.0": {"b": "??"}}, "b": {}}, {"a": "*"})


def test_a_deep_chain_resolves_without_recursion() -> None:
    # 2,000 plugins, each needing the next: the search keeps its own stack, so depth is bounded by memory
    n = 2000
    pkgs = {f"p{i:04d}": {"1.0.0": {f"p{i + 1:04d}": "^1"} if i + 1 < n else {}} for i in range(n)}
    resolver = Resolver(MemorySource(pkgs))
    got = resolver.resolve({"p0000": "^1"})
    assert len(got) == n and all(str(c.version) == "1.0.0" for c in got.values())
    assert resolver.steps == n


def conflict_behind_uninvolved_choices(fixable: bool) -> dict:
    """app 1.1.0 needs eight independent plugins (5 versions each) and, decided last, zz-late, which
    needs zz-core ^2 while app 1.1.0 itself asks for zz-core ^1. Plain backtracking retries every
    combination of the eight (5^8) before it reconsiders app; the conflict involves only app."""
    many = {f"a{k}": {f"1.{v}.0": {} for v in range(5)} for k in range(1, 9)}
    newest = {**{name: "^1" for name in many}, "zz-core": "^1", "zz-late": "^1"}
    older = {} if fixable else newest
    return {
        "app": {"1.0.0": older, "1.1.0": newest},
        **many,
        "zz-core": {"1.0.0": {}, "2.0.0": {}},
        "zz-late": {"1.0.0": {"zz-core": "^2"}},
    }


def test_backjumps_over_choices_that_took_no_part_in_a_conflict() -> None:
    resolver = Resolver(MemorySource(conflict_behind_uninvolved_choices(fixable=True)))
    got = resolver.resolve({"app": "^1"})
    assert {n: str(c.version) for n, c in got.items()} == {"app": "1.0.0"}
    # app 1.1.0, its 8 + 2 dependencies, then app 1.0.0 (chronological backtracking: > 20,000 attempts)
    assert resolver.steps == 12


def test_an_unsolvable_conflict_behind_uninvolved_choices_is_explained_quickly() -> None:
    resolver = Resolver(MemorySource(conflict_behind_uninvolved_choices(fixable=False)))
    with pytest.raises(ResolveError) as exc:
        resolver.resolve({"app": "^1"})
    lines = str(exc.value).splitlines()
    assert lines[0] == "cannot resolve extism.yaml: conflicting requirements for zz-core"
    assert lines[1:4] == [
        "  extism.yaml wants app ^1",
        "    app 1.1.0 needs zz-core ^1",
        "    app 1.1.0 needs zz-late ^1",
    ]
    assert lines[4:] == [
        "      zz-late 1.0.0 needs zz-core ^2",
        "  no version of zz-core matches ^1 and ^2 (available: 1.0.0, 2.0.0)",
        "  also tried app 1.0.0: it conflicts too",
    ]
    assert resolver.steps == 22  # app 1.1.0's subtree once, then app 1.0.0's (before: gave up at 20,000)


def test_the_step_limit_is_still_a_last_resort_with_a_clear_message() -> None:
    resolver = Resolver(MemorySource(conflict_behind_uninvolved_choices(fixable=True)), max_steps=5)
    with pytest.raises(ResolveError, match=r"gave up after 5 attempts \(narrow the ranges in extism.yaml\)"):
        resolver.resolve({"app": "^1"})


def test_an_internal_error_while_fetching_is_never_a_download_failure() -> None:
    # python-tuf wraps whatever its fetch raises as "Failed to download …": that once hid a RecursionError
    from tuf.api import exceptions as tuf_exc

    from registry_static.client import _explain

    def wrapped(cause: BaseException) -> tuf_exc.DownloadError:
        try:
            raise tuf_exc.DownloadError("Failed to download http://127.0.0.1:1/x.json") from cause
        except tuf_exc.DownloadError as exc:
            return exc

    with pytest.raises(RecursionError):
        _explain(wrapped(RecursionError("maximum recursion depth exceeded")), "http://127.0.0.1:1/")
    network = _explain(wrapped(ConnectionRefusedError("refused")), "http://127.0.0.1:1/")
    assert "Failed to download" in str(network) and "refused" in str(network)
