"""The resolver against brute force on many small random registries (seeded, generated here): it finds a
solution exactly when one exists, and what it finds satisfies every requirement, keeps what the lock
pins when that works, never takes a yanked version the lock does not pin, and could not have taken a
higher version of any plugin with everything else unchanged."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping

import pytest

from plugin_format.errors import ResolveError
from plugin_format.semver import Range, Version
from registry_static.resolver import MemorySource, Resolver

VERSIONS = ["0.1.0", "1.0.0", "1.1.0", "1.2.0-rc.1", "1.2.0", "2.0.0-beta.1", "2.0.0", "2.1.0"]
RANGES = [
    "*", "^1", "~1.1", ">=1.1, <2", "1.x", "^2", "^2.0.0-beta.1", "^1 || ^2", "1.0.0", ">1.0.0",
    "<2", "^0.1", "2.0.0-beta.1 - 2.0.0", "^1.2.0-rc.1", ">=2.1",
]  # fmt: skip
SEEDS = range(400)


def registry(rng: random.Random) -> tuple[dict, list[str]]:
    names = [f"p{k}" for k in range(rng.randint(2, 5))]
    packages: dict[str, dict[str, dict[str, str]]] = {}
    yanked = []
    for name in names:
        versions = rng.sample(VERSIONS, rng.randint(1, 4))
        packages[name] = {}
        for v in versions:
            deps = {d: rng.choice(RANGES) for d in rng.sample(names, rng.randint(0, 2)) if d != name}
            packages[name][v] = deps
            if rng.random() < 0.1:
                yanked.append(f"{name}@{v}")
    return packages, yanked


def wanted_of(rng: random.Random, packages: dict) -> dict[str, str | Range]:
    out: dict[str, str | Range] = {}
    for name in rng.sample(sorted(packages), rng.randint(1, min(3, len(packages)))):
        spec = rng.choice(RANGES)
        out[name] = Range.parse(spec, include_prerelease=True) if rng.random() < 0.2 else spec
    return out


def as_range(spec: str | Range) -> Range:
    return spec if isinstance(spec, Range) else Range.parse(spec)


def valid(packages: dict, wanted: Mapping[str, str | Range], choice: Mapping[str, str]) -> bool:
    """Every requirement of extism.yaml and of every chosen version holds (extra plugins allowed)."""
    for name, spec in wanted.items():
        if name not in choice or not as_range(spec).matches(choice[name]):
            return False
    for name, v in choice.items():
        for dep, spec in packages[name][v].items():
            if dep not in choice or not Range.parse(spec).matches(choice[dep]):
                return False
    return True


def usable(packages: dict, yanked: list[str], locked: dict[str, str], name: str) -> list[str]:
    return [v for v in packages[name] if f"{name}@{v}" not in yanked or locked.get(name) == v]


def brute_force(packages: dict, yanked: list[str], locked: dict[str, str], wanted: Mapping) -> bool:
    names = sorted(packages)
    options = [[None, *usable(packages, yanked, locked, n)] for n in names]
    for combo in itertools.product(*options):
        choice = {n: v for n, v in zip(names, combo, strict=True) if v is not None}
        if valid(packages, wanted, choice):
            return True
    return False


def reachable(packages: dict, wanted: Mapping, choice: Mapping[str, str]) -> set[str]:
    seen, todo = set(), list(wanted)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += packages[name][choice[name]]
    return seen


@pytest.mark.parametrize("block", range(8))
def test_the_resolver_agrees_with_brute_force(block: int) -> None:
    solved = failed = 0
    for seed in SEEDS[block::8]:
        rng = random.Random(seed)
        packages, yanked = registry(rng)
        wanted = wanted_of(rng, packages)
        locked = {}
        for name in packages:
            if rng.random() < 0.3:
                locked[name] = rng.choice(list(packages[name]))
        where = f"seed {seed}: {packages} yanked={yanked} locked={locked} wanted={wanted}"
        exists = brute_force(packages, yanked, locked, wanted)
        try:
            got = Resolver(MemorySource(packages, yanked), locked=locked).resolve(wanted)
        except ResolveError as exc:
            assert not exists, f"{where}: a solution exists, the resolver says\n{exc}"
            lines = str(exc).splitlines()
            assert lines[0].startswith("cannot resolve extism.yaml: ") and len(lines) > 1, where
            failed += 1
            continue
        assert exists, f"{where}: no solution exists, the resolver found {got}"
        choice = {n: str(c.version) for n, c in got.items()}
        assert valid(packages, wanted, choice), f"{where}: {choice} breaks a requirement"
        assert set(choice) == reachable(packages, wanted, choice), f"{where}: {choice} has a plugin nothing needs"
        for name, v in choice.items():
            assert f"{name}@{v}" not in yanked or locked.get(name) == v, f"{where}: yanked {name} {v} chosen"
            if name in locked:
                continue
            higher = [h for h in usable(packages, yanked, locked, name) if Version.parse(h) > Version.parse(v)]
            for h in higher:  # "highest first": no higher version would have done with the rest unchanged
                assert not valid(packages, wanted, {**choice, name: h}), f"{where}: {name} {h} fits, {v} chosen"
        pinned = {n: v for n, v in locked.items() if n in choice}
        if (
            pinned
            and valid(packages, wanted, {**choice, **pinned})
            and reachable(packages, wanted, {**choice, **pinned}) == set(choice)
        ):
            assert choice == {**choice, **pinned}, f"{where}: the lock fits, yet {choice} moved off it"
        solved += 1
    assert solved > 5 and failed > 5  # both outcomes are exercised in every block


class _TooLongError(Exception):
    pass


def exhaustive(packages: dict, yanked: list[str], wanted: Mapping, cap: int) -> bool | None:
    """Plain chronological backtracking over every usable version of every needed plugin: slow, but
    obviously complete. None when it would take more than `cap` nodes."""
    nodes = 0

    def search(choice: dict[str, str], reqs: list[tuple[str, Range]]) -> bool:
        nonlocal nodes
        nodes += 1
        if nodes > cap:
            raise _TooLongError
        if any(n in choice and not r.matches(choice[n]) for n, r in reqs):
            return False
        todo = next((n for n, _ in reqs if n not in choice), None)
        if todo is None:
            return True
        for v in usable(packages, yanked, {}, todo):
            deps = [(d, Range.parse(s)) for d, s in packages[todo][v].items()]
            if search({**choice, todo: v}, reqs + deps):
                return True
        return False

    try:
        return search({}, [(n, as_range(s)) for n, s in wanted.items()])
    except _TooLongError:
        return None


@pytest.mark.parametrize("block", range(4))
def test_the_resolver_agrees_with_exhaustive_search_on_larger_registries(block: int) -> None:
    # 10–30 plugins: past brute force, and where the order of decisions and backtracking matter
    compared = 0
    for seed in range(1000 + block, 1800, 4):
        rng = random.Random(seed)
        names = [f"p{k}" for k in range(rng.randint(10, 30))]
        packages = {
            name: {
                v: {d: rng.choice(RANGES) for d in rng.sample(names, rng.randint(0, 3)) if d != name}
                for v in rng.sample(VERSIONS, rng.randint(2, 6))
            }
            for name in names
        }
        yanked = [f"{n}@{v}" for n in names for v in packages[n] if rng.random() < 0.05]
        wanted = {n: rng.choice(RANGES) for n in rng.sample(names, rng.randint(1, 4))}
        where = f"seed {seed}"
        try:
            got = Resolver(MemorySource(packages, yanked)).resolve(wanted)
        except ResolveError:
            got = None
        if got is not None:
            choice = {n: str(c.version) for n, c in got.items()}
            assert valid(packages, wanted, choice), f"{where}: {choice} breaks a requirement"
        exists = exhaustive(packages, yanked, wanted, cap=20_000)
        if exists is not None:
            assert exists == (got is not None), f"{where}: exhaustive search says {exists}, the resolver {got}"
            compared += 1
    assert compared > 150
