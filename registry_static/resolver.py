"""Pick one exact version per plugin: what extism.yaml wants plus, transitively, their dependencies.

The solver is PubGrub (Natalie Weizenbaum's algorithm for Dart's pub, conflict-driven learning as in
SAT solvers), written here for our rules; no solver on PyPI takes npm-strict semver with our
pre-release rules, yanked versions that only a lock may keep, and the lock's versions tried first.

- A *term* says one thing about one plugin: "x is chosen, with a version in S" (positive) or "x is not
  chosen with a version in S" (negative: absent, or outside S). S is a set of the plugin's usable
  versions as a bitmask (bit 0 the highest): every range is matched once against the versions that
  exist, so the set algebra is exact whatever the range says (`||`, pre-releases, the opt-in).
- An *incompatibility* is terms that cannot all hold: `{x 1.0.0 || 1.2.0, not y ^2}` is "x 1.0.0
  and 1.2.0 need y ^2" (every version of x with that same dependency, in one); `{extism.yaml, not
  x ^1}` is extism.yaml's own requirement (a Range parsed with the pre-release opt-in, when
  extism.yaml's `prerelease: true` asks for it, matches pre-releases as npm's includePrerelease does).
- The *partial solution* is the assignments so far, in order: decisions (x is 1.2.0) and what unit
  propagation derived from the incompatibilities (y must be in ^2).

The loop: propagate, then decide one required plugin — one with a single version left first, else
the one most recently found needed (depth first: a conflict then shows next to the decisions that
led to it) — taking its extism.lock version if still allowed, else the highest; a yanked version is
never usable unless the lock pins it. A plugin's versions are fetched when a chosen version needs
it, never before. When an incompatibility is satisfied (a conflict), its root cause is derived by
resolution and learned as a new incompatibility; the search backs up only past the level where the
conflict arose, not down to the level where the learned fact holds: the decisions in between,
unrelated to it, stay (see `_Solver`). Nothing is recursive (a dependency chain may be as deep as
memory allows); `MAX_STEPS` (decisions + conflicts) is the last resort.

When nothing works, the learned incompatibilities are the proof, and the error tells it one step
per line, facts first, then what follows from them (see `_Explainer`):

    cannot resolve extism.yaml: conflicting requirements for @a/y
      @a/x ^1 needs @a/y ^2
      extism.yaml wants @a/x ^1
      so extism.yaml needs @a/y ^2
      extism.yaml wants @a/y ^1
      no version of @a/y matches ^2 and ^1 (available: 1.0.0, 2.0.0)

Versions come from a `VersionSource` (the registries for `install`, a dict in the tests).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from plugin_format.errors import RegistryError, ResolveError, SemverError
from plugin_format.semver import Range, Version

MAX_STEPS = 100_000
_LIST_MAX = 8
_PROOF_MAX = 120  # lines of a proof shown; a longer one keeps its start and its end
ROOT = ""  # the project itself, a pseudo-plugin with one version (no plugin's name is empty)


@dataclass(frozen=True)
class Candidate:
    """One published version as the resolver sees it."""

    name: str
    version: Version
    dependencies: Mapping[str, str] = field(default_factory=dict)
    yanked: bool = False
    data: Any = None  # whatever the source attaches (the registry's VersionInfo)


class VersionSource(Protocol):
    def candidates(self, name: str, wanted_by: str | None) -> Sequence[Candidate]:
        """Every published version of `name` (yanked ones included). `wanted_by` is the plugin whose
        dependency this is (None: the project itself), for sources that route names to registries."""
        ...


def _listing(items: Sequence[str]) -> str:
    if len(items) <= _LIST_MAX:
        return ", ".join(items)
    return ", ".join(items[:_LIST_MAX]) + f", … ({len(items) - _LIST_MAX} more)"


# ---- version sets: (positive, bits) ---------------------------------------------------------------
# positive: chosen with a version in bits; negative: not chosen with a version in bits. (False, 0)
# says nothing (anything goes); (False, mask) says the plugin is absent.

_ANY = (False, 0)


def _meet(ap: bool, ab: int, bp: bool, bb: int) -> tuple[bool, int]:
    if ap:
        return (True, ab & bb) if bp else (True, ab & ~bb)
    return (True, bb & ~ab) if bp else (False, ab | bb)


def _subset(ap: bool, ab: int, bp: bool, bb: int) -> bool:
    if ap:
        return not ab & ~bb if bp else not ab & bb
    return False if bp else not bb & ~ab  # a negative term always allows "absent"


def _disjoint(ap: bool, ab: int, bp: bool, bb: int) -> bool:
    if ap:
        return not ab & bb if bp else not ab & ~bb
    return not bb & ~ab if bp else False


class _Plugin:
    """What the solver knows of one plugin: its versions (highest first; `usable` are the ones it may
    choose, a bit each), the bits each range spec matches, and its dependency incompatibilities."""

    __slots__ = ("name", "known", "usable", "mask", "at", "labels", "matches", "deps", "of_version")

    def __init__(self, name: str, known: list[Candidate], pinned: Version | None) -> None:
        self.name = name
        self.known = known
        self.usable: list[Candidate] = []
        self.at: dict[Version, int] = {}
        for c in known:
            if (not c.yanked or c.version == pinned) and c.version not in self.at:
                self.at[c.version] = len(self.usable)
                self.usable.append(c)
        self.mask = (1 << len(self.usable)) - 1
        self.labels: dict[int, str] = {}  # bits → a spec matching exactly those, for the explanation
        self.matches: dict[tuple[str, bool], int] = {}
        self.deps: dict[tuple[str, str], _Inc] = {}  # (dependency, range) → its incompatibility
        self.of_version: dict[int, list[_Inc]] = {}

    def bits(self, rng: Range) -> int:
        key = (rng.spec, rng.include_prerelease)
        got = self.matches.get(key)
        if got is None:
            got = 0
            for i, c in enumerate(self.usable):
                if rng.matches(c.version):
                    got |= 1 << i
            self.matches[key] = got
            self.labels.setdefault(got, _label(rng))
        return got

    def available(self) -> str:
        live = [str(k.version) for k in reversed(self.known) if not k.yanked]
        yanked = [str(k.version) for k in reversed(self.known) if k.yanked]
        return f"available: {_listing(live) or 'none'}" + (f"; yanked: {_listing(yanked)}" if yanked else "")


def _label(rng: Range) -> str:
    return f"{rng.spec} (pre-releases included)" if rng.include_prerelease else rng.spec


class _Inc:
    """An incompatibility: `terms` {plugin: (positive, bits)} that cannot all hold. An external one
    says why in `dep` = (who, what, range): extism.yaml's requirement (who is ROOT) or a dependency;
    a derived one has the two `causes` it was resolved from, on the plugin `pivot`."""

    __slots__ = ("terms", "dep", "causes", "pivot", "seen_at", "added")

    def __init__(
        self,
        terms: dict[str, tuple[bool, int]],
        dep: tuple[str, str, Range] | None = None,
        causes: tuple[_Inc, _Inc] | None = None,
        pivot: str | None = None,
    ) -> None:
        self.terms = terms
        self.dep = dep
        self.causes = causes
        self.pivot = pivot
        self.seen_at: tuple[int, int] | None = None  # (level, epoch) where it was found contradicted
        self.added = False  # to the solver's incompatibilities


class _Assignment:
    """A decision (`cause` None) or a derivation, at its true decision level: the highest level of
    what it follows from, which may be lower than the level current when it was derived."""

    __slots__ = ("name", "pos", "bits", "level", "cause", "seq", "acc")

    def __init__(self, name: str, pos: bool, bits: int, level: int, cause: _Inc | None, seq: int) -> None:
        self.name, self.pos, self.bits, self.level, self.cause, self.seq = name, pos, bits, level, cause, seq
        self.acc = _ANY  # the meet of this plugin's assignments up to this one, in (level, seq) order


class Resolver:
    """`Resolver(source, locked={name: version}).resolve({name: range})` → {name: Candidate}."""

    def __init__(
        self,
        source: VersionSource,
        *,
        locked: Mapping[str, str | Version] | None = None,
        root: str = "extism.yaml",
        max_steps: int = MAX_STEPS,
    ) -> None:
        self.source = source
        self.locked = {n: v if isinstance(v, Version) else Version.parse(v) for n, v in (locked or {}).items()}
        self.root = root
        self.max_steps = max_steps
        self.steps = 0
        self._plugins: dict[str, _Plugin] = {}
        self._via: dict[str, tuple[str, str, str]] = {}  # how a plugin was first needed, for fetch errors

    # ---- versions ------------------------------------------------------------------------------

    def _plugin(self, name: str, wanted_by: str | None) -> _Plugin:
        got = self._plugins.get(name)
        if got is None:
            try:
                found = list(self.source.candidates(name, wanted_by))
            except RegistryError as exc:
                raise ResolveError(f"cannot resolve {self.root}: {exc}", self._path(name)) from None
            known = sorted(found, key=lambda c: c.version, reverse=True)
            got = self._plugins[name] = _Plugin(name, known, self.locked.get(name))
        return got

    def _path(self, name: str) -> list[str]:
        """The chain of requirements that first brought `name` in: extism.yaml wants …, x 1.2.0 needs …"""
        steps, seen = [], set()
        while name in self._via and name not in seen:
            seen.add(name)
            parent, version, spec = self._via[name]
            steps.append(f"{parent} {version} needs {name} {spec}" if parent else f"{self.root} wants {name} {spec}")
            name = parent
        return steps[::-1]

    # ---- the solver ----------------------------------------------------------------------------

    def resolve(self, wanted: Mapping[str, str | Range]) -> dict[str, Candidate]:
        """Exact versions for `wanted` ({name: range}; a `Range` carries its pre-release opt-in) and
        everything they depend on."""
        ranges: dict[str, Range] = {}
        for name, spec in sorted(wanted.items()):
            if isinstance(spec, Range):
                ranges[name] = spec
                continue
            try:
                ranges[name] = Range.parse(spec)
            except SemverError as exc:
                raise ResolveError(f"{self.root}: plugins.{name}: {exc}") from None
        for name, rng in ranges.items():
            self._via.setdefault(name, (ROOT, "", rng.spec))
        root = _Plugin(ROOT, [], None)
        root.usable, root.mask = [Candidate(ROOT, Version(0, 0, 0))], 1
        self._plugins[ROOT] = root
        incs = []
        for name, rng in ranges.items():
            bits = self._plugin(name, None).bits(rng)
            terms = {ROOT: (True, 1)}
            if bits:
                terms[name] = (False, bits)
            incs.append(_Inc(terms, (ROOT, name, rng)))
        return _Solver(self, incs).run(ranges)

    def _dependencies(self, plugin: _Plugin, i: int) -> list[_Inc]:
        """The incompatibilities of version `i` of `plugin`'s dependencies: each also covers every other
        version of the plugin with the same dependency (the same range)."""
        done = plugin.of_version.get(i)
        if done is not None:
            return done
        cand = plugin.usable[i]
        out: list[_Inc] = []
        for dep, spec in sorted(cand.dependencies.items()):
            step = f"{plugin.name} {cand.version} needs {dep} {spec}"
            try:
                rng = Range.parse(spec)
            except SemverError as exc:
                raise ResolveError(
                    f"cannot resolve {self.root}: {step}, an invalid range ({exc})", self._path(plugin.name)
                ) from None
            self._via.setdefault(dep, (plugin.name, str(cand.version), spec))
            target = self._plugin(dep, plugin.name)
            bits = target.bits(rng)
            key = (dep, rng.spec)
            inc = plugin.deps.get(key)
            if inc is None:
                same = 0
                for j, other in enumerate(plugin.usable):
                    theirs = other.dependencies.get(dep)
                    if theirs is not None and theirs.strip() == rng.spec:
                        same |= 1 << j
                terms: dict[str, tuple[bool, int]] = {plugin.name: (True, same)}
                if dep == plugin.name:  # it needs itself: only its versions outside the range are impossible
                    terms = {dep: (True, same & ~bits)}
                elif bits:
                    terms[dep] = (False, bits)
                inc = plugin.deps[key] = _Inc(terms, (plugin.name, dep, rng))
            if inc.terms[plugin.name][1]:  # (a plugin that needs itself in a range it is in needs nothing)
                out.append(inc)
        plugin.of_version[i] = out
        return out

    def _count(self) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise ResolveError(
                f"cannot resolve {self.root}: gave up after {self.max_steps} attempts "
                "(narrow the ranges in extism.yaml)"
            )


class _Solver:
    """One run of PubGrub over the resolver's plugins: the partial solution, the incompatibilities by
    plugin, and the loop (propagate, decide; on a conflict learn its root cause and backtrack).

    Two choices depart from pub's solver, both measured on the benchmark's registry of 10,000:

    - Where to backtrack to. PubGrub goes back to the level where the learned incompatibility has
      one open term, dropping every decision made since, most of them unrelated when thousands of
      plugins are decided: it re-made ~800 decisions per conflict (2M for 2,500 conflicts). Here the
      search backs up to just below the satisfier's level (chronological backtracking, as CDCL SAT
      solvers may), and a derivation gets its true level — the highest level of what it follows
      from — not the current one, so a learned fact survives when the search later backs up
      further. The partial solution is ordered by (level, seq), seq counting assignments as they
      are made: whatever justifies an assignment sorts before it, so that order is a valid PubGrub
      trail and conflict resolution reads it as the algorithm describes.
    - What to decide next. Pub takes the plugin with the fewest versions left; there, a plugin
      needed early with four versions left waited behind thousands with three, and its
      dependencies, fetched only when it was finally decided, contradicted decisions made 4,000
      levels before. Here a plugin with one version left goes first, then the most recently found
      needed (depth first), so the dependencies of a choice are settled next to it.
    """

    def __init__(self, resolver: Resolver, incs: list[_Inc]) -> None:
        self.r = resolver
        self.plugins = resolver._plugins
        self.incs: dict[str, list[_Inc]] = {}
        self.levels: list[list[_Assignment]] = [[]]  # the assignments of each decision level
        self.by_plugin: dict[str, list[_Assignment]] = {}  # each plugin's, in (level, seq) order
        self.acc: dict[str, tuple[bool, int]] = {}
        self.decided: dict[str, int] = {}
        self.level = 0
        self.seq = 0
        self.epochs = [0]
        self._epoch = 0
        self.queue: list[tuple[int, int, str]] = []  # (versions left, first seen, plugin): what to decide next
        self.seen: dict[str, int] = {}
        for inc in incs:
            self._add(inc)

    def run(self, wanted: Mapping[str, Range]) -> dict[str, Candidate]:
        self.decided[ROOT] = 0
        self._assign(ROOT, True, 1, None, 0)
        nxt: str | None = ROOT
        while nxt is not None:
            self._propagate(nxt)
            nxt = self._decide()
        # every decision is needed by the root or by another (PubGrub decides only required plugins);
        # walk the chosen dependencies from extism.yaml all the same, in the order they are reached
        out: dict[str, Candidate] = {}
        todo = list(wanted)
        while todo:
            name = todo.pop(0)
            if name in out:
                continue
            cand = self.plugins[name].usable[self.decided[name]]
            out[name] = cand
            todo += sorted(cand.dependencies)
        return out

    # ---- the partial solution ----------------------------------------------------------------

    def _add(self, inc: _Inc) -> None:
        inc.added = True
        for name in inc.terms:
            self.incs.setdefault(name, []).append(inc)

    def _assign(self, name: str, pos: bool, bits: int, cause: _Inc | None, level: int) -> None:
        a = _Assignment(name, pos, bits, level, cause, self.seq)
        self.seq += 1
        self.levels[level].append(a)
        own = self.by_plugin.setdefault(name, [])
        k = len(own)
        while k and own[k - 1].level > level:
            k -= 1
        own.insert(k, a)
        acc = own[k - 1].acc if k else _ANY
        for later in own[k:]:
            acc = later.acc = _meet(*acc, later.pos, later.bits)
        self.acc[name] = acc
        if acc[0] and name not in self.decided:
            self._enqueue(name)

    def _enqueue(self, name: str) -> None:
        order = self.seen.setdefault(name, len(self.seen))
        count = self.acc[name][1].bit_count()
        heapq.heappush(self.queue, (count != 1, -order, count, name))

    def _backtrack(self, level: int) -> None:
        """Undo every assignment above `level` (each plugin's are last in its list)."""
        touched = set()
        for gone in self.levels[level + 1 :]:
            for a in gone:
                if a.cause is None:
                    del self.decided[a.name]
                touched.add(a.name)
        del self.levels[level + 1 :]
        for name in sorted(touched):
            own = self.by_plugin[name]
            while own and own[-1].level > level:
                own.pop()
            if own:
                self.acc[name] = own[-1].acc
                if self.acc[name][0] and name not in self.decided:
                    self._enqueue(name)
            else:
                del self.acc[name]
        self.level = level
        del self.epochs[level + 1 :]

    def _relation(self, inc: _Inc) -> tuple[int, str | None]:
        """0: satisfied (a conflict), 1: almost (all but the returned term), 2: contradicted, 3: open."""
        acc = self.acc
        unsat = None
        for name, (tp, tb) in inc.terms.items():
            sp, sb = acc.get(name, _ANY)
            if _subset(sp, sb, tp, tb):
                continue
            if _disjoint(sp, sb, tp, tb):
                return 2, None
            if unsat is not None:
                return 3, None
            unsat = name
        return (0, None) if unsat is None else (1, unsat)

    def _contradicted(self, inc: _Inc) -> bool:
        seen = inc.seen_at
        return seen is not None and seen[0] <= self.level and self.epochs[seen[0]] == seen[1]

    def _mark(self, inc: _Inc) -> None:
        inc.seen_at = (self.level, self.epochs[self.level])

    # ---- unit propagation -----------------------------------------------------------------------

    def _propagate(self, start: str) -> None:
        changed: dict[str, None] = {start: None}
        while changed:
            name, _ = changed.popitem()
            incs = self.incs.get(name, [])
            for k in range(len(incs) - 1, -1, -1):  # newest first: the learned ones are the most general
                inc = incs[k]
                if self._contradicted(inc):
                    continue
                rel, term = self._relation(inc)
                if rel == 2:
                    self._mark(inc)
                elif rel == 1:
                    self._derive(term, inc)
                    changed[term] = None
                elif rel == 0:
                    cause = self._conflict(inc)
                    rel, term = self._relation(cause)
                    assert rel == 1 and term is not None, "the learned incompatibility has one open term"
                    self._derive(term, cause)
                    changed = {term: None}
                    break

    def _derive(self, name: str, inc: _Inc) -> None:
        """`inc` has one open term, `name`'s: its negation holds, from the level of the others."""
        level = 0
        for other, term in inc.terms.items():
            if other != name:
                level = max(level, self._satisfier(other, term).level)  # type: ignore[union-attr]
        pos, bits = inc.terms[name]
        self._assign(name, not pos, bits, inc, level)
        self._mark(inc)

    # ---- conflict resolution --------------------------------------------------------------------

    def _satisfier(
        self, name: str, term: tuple[bool, int], also: tuple[bool, int] | None = None, before: Any = None
    ) -> _Assignment | None:
        """The first assignment of `name` from which on the partial solution (met with `also`) satisfies
        `term`; only those before `before` when given."""
        for a in self.by_plugin.get(name, ()):
            if a is before:
                return None
            acc = _meet(*a.acc, *also) if also else a.acc
            if _subset(*acc, *term):
                return a
        return None

    def _conflict(self, inc: _Inc) -> _Inc:
        """Resolve the satisfied `inc` back to its root cause; learn it and backtrack so that it has
        exactly one open term. Raises the explanation when the root cause is extism.yaml itself."""
        self.r._count()
        learned = False
        while True:
            if not inc.terms or (len(inc.terms) == 1 and ROOT in inc.terms):
                raise _Explainer(self.r).error(inc)
            found = {name: self._satisfier(name, term) for name, term in inc.terms.items()}
            sat = max(found.values(), key=lambda a: (a.level, a.seq))  # type: ignore[union-attr]
            assert sat is not None
            term = inc.terms[sat.name]
            previous = 0
            for name, a in found.items():
                if name != sat.name:
                    previous = max(previous, a.level)  # type: ignore[union-attr]
            own = self._satisfier(sat.name, term, (sat.pos, sat.bits), before=sat)
            if own is not None:
                previous = max(previous, own.level)
            if sat.cause is None or previous != sat.level:
                if learned:
                    self._add(inc)
                self._backtrack(sat.level - 1)  # not `previous`: see the class docstring
                return inc
            # resolution with the cause of the satisfier: the pivot plugin's terms go, the rest meet
            terms: dict[str, tuple[bool, int]] = {}
            for src in (inc, sat.cause):
                for name, t in src.terms.items():
                    if name != sat.name:
                        terms[name] = _meet(*terms[name], *t) if name in terms else t
            if not _subset(sat.pos, sat.bits, *term):
                left = _meet(sat.pos, sat.bits, not term[0], term[1])  # satisfier \ term
                terms[sat.name] = (not left[0], left[1])
            inc = _Inc(terms, causes=(inc, sat.cause), pivot=sat.name)
            learned = True

    # ---- decisions -----------------------------------------------------------------------------

    def _decide(self) -> str | None:
        """Choose a version for the next plugin (one with a single version left, else the one most
        recently found needed): its locked version if allowed, else the highest. Not when that version's
        dependencies already conflict: propagation then rules it out. None: every required plugin has one."""
        while self.queue:
            _, _, count, name = heapq.heappop(self.queue)
            acc = self.acc.get(name)
            if name in self.decided or acc is None or not acc[0] or acc[1].bit_count() != count:
                continue  # stale
            break
        else:
            return None
        self.r._count()
        plugin = self.plugins[name]
        bits = self.acc[name][1]
        lock = self.r.locked.get(name)
        pinned = plugin.at.get(lock) if lock is not None else None
        i = pinned if pinned is not None and bits >> pinned & 1 else (bits & -bits).bit_length() - 1
        conflict = False
        for inc in self.r._dependencies(plugin, i):
            if not inc.added:
                self._add(inc)
            conflict = conflict or all(n == name or _subset(*self.acc.get(n, _ANY), *t) for n, t in inc.terms.items())
        if not conflict:
            self.level += 1
            self._epoch += 1
            self.epochs.append(self._epoch)
            self.decided[name] = i
            self.levels.append([])
            self._assign(name, True, 1 << i, None, self.level)
        else:  # propagation will narrow it; it stays to be decided (its queue entry was just used)
            self._enqueue(name)
        return name


class _Explainer:
    """The proof that nothing works, from the derivation of the final incompatibility: each derived
    step as "so …" after what it follows from — the facts stated just above it (again, if they were
    used before), the step on the line before, and any earlier step cited by number ([n])."""

    def __init__(self, resolver: Resolver) -> None:
        self.r = resolver
        self.plugins = resolver._plugins

    # ---- words -----------------------------------------------------------------------------------

    def _versions(self, name: str, bits: int) -> str | None:
        """The versions `bits` of `name` as a range (a spec it was asked with when one matches exactly
        them, else runs of versions); None: all of them."""
        p = self.plugins[name]
        if bits in p.labels:
            return p.labels[bits]
        if bits == p.mask:
            return None
        n = len(p.usable)
        runs, i = [], n - 1  # lowest version first
        while i >= 0:
            if not bits >> i & 1:
                i -= 1
                continue
            j = i
            while j - 1 >= 0 and bits >> (j - 1) & 1:
                j -= 1
            low, high = str(p.usable[i].version), str(p.usable[j].version)
            if i == j:
                runs.append(low)
            elif i == n - 1:
                runs.append(f"<={high}")
            elif j == 0:
                runs.append(f">={low}")
            elif i - j == 1:
                runs += [low, high]
            else:
                runs.append(f"{low} - {high}")
            i = j - 1
        return " || ".join(runs) if runs else "(none)"

    def _subject(self, name: str, bits: int) -> str:
        if name == ROOT:
            return self.r.root
        v = self._versions(name, bits)
        return f"every version of {name}" if v is None else f"{name} {v}"

    def _object(self, name: str, bits: int) -> str:
        v = self._versions(name, bits)
        return f"{name} (any version)" if v is None else f"{name} {v}"

    def _sentence(self, inc: _Inc) -> str:
        pos = [(n, b) for n, (p, b) in inc.terms.items() if p and n != ROOT]
        neg = [(n, b) for n, (p, b) in inc.terms.items() if not p]
        describe = self._subject if len(pos) == 1 else self._object  # "every version of x and y" misleads
        used = " and ".join(describe(n, b) for n, b in pos)
        needed = " or ".join(self._object(n, b) for n, b in neg)
        if ROOT in inc.terms:
            if pos and neg:
                return f"{self.r.root} needs {needed} when it uses {used}"
            if pos:
                return f"{self.r.root} cannot use {used}" + (" together" if len(pos) > 1 else "")
            if neg:
                return f"{self.r.root} needs {needed}"
            return f"{self.r.root} cannot be resolved"
        if pos and neg:
            return f"{used} {'needs' if len(pos) == 1 else 'together need'} {needed}"
        if pos:
            return f"{used} cannot be chosen" + (" together" if len(pos) > 1 else "")
        return f"{needed} is needed"

    def _fact(self, inc: _Inc) -> list[str]:
        who, name, rng = inc.dep  # type: ignore[misc]
        if who == ROOT:
            line = f"{self.r.root} wants {name} {_label(rng)}"
        else:
            line = f"{self._subject(who, inc.terms[who][1])} needs {name} {rng.spec}"
        if name not in inc.terms:  # no usable version matches the range
            return [line, f"no version of {name} matches {_label(rng)} ({self.plugins[name].available()})"]
        return [line]

    def _clash(self, inc: _Inc) -> str | None:
        """What the resolution step behind `inc` hinged on, when it is two ranges no version meets."""
        a, b = (c.terms.get(inc.pivot or "") for c in inc.causes or ())
        if a is None or b is None or a[0] or b[0] or a[1] & b[1]:
            return None
        specs = [self._versions(inc.pivot, a[1]), self._versions(inc.pivot, b[1])]  # type: ignore[arg-type]
        shown = " and ".join(s or "any version" for s in dict.fromkeys(specs))
        return f"no version of {inc.pivot} matches {shown} ({self.plugins[inc.pivot].available()})"  # type: ignore[index]

    # ---- the proof -------------------------------------------------------------------------------

    def error(self, final: _Inc) -> ResolveError:
        lines: list[str] = []
        step_at: dict[frozenset, int] = {}  # a derived step (by what it says: one learned twice is one) → its line
        cited: set[frozenset] = set()  # the steps referred to by number
        refs_of: dict[int, list[frozenset]] = {}  # a line → the steps it refers to
        last = -1  # the line of the last step
        clashes: list[str] = []
        none: list[str] = []
        todo: list[tuple[_Inc, bool]] = [(final, False)]
        while todo:
            inc, ready = todo.pop()
            if inc.causes is None:  # a fact: stated where it is used, each time
                fact = self._fact(inc)
                lines += fact
                none += fact[1:]
                continue
            key = frozenset(inc.terms.items())
            if key in step_at:
                continue
            if not ready:
                todo.append((inc, True))
                # a derived cause first: a chain then reads as facts, step, fact, step, …
                order = sorted(inc.causes, key=lambda c: c.causes is None)
                todo += [(c, False) for c in reversed(order)]
                continue
            # a derived cause that is not the last step above (facts may come between) is cited by number
            refs = [k for c in inc.causes if c.causes and step_at[k := frozenset(c.terms.items())] != last]
            cited.update(refs)
            clash = self._clash(inc)
            if clash:
                lines.append(clash)
                clashes.append(inc.pivot or "")
            if inc is final and clash:
                break
            refs_of[len(lines)] = refs
            step_at[key] = last = len(lines)
            lines.append("so " + (self._final(inc) if inc is final else self._sentence(inc)))
        number = {step: k + 1 for k, step in enumerate(sorted(cited, key=step_at.__getitem__))}
        for step, n in number.items():
            lines[step_at[step]] = f"[{n}] {lines[step_at[step]]}"
        for at, refs in refs_of.items():
            if refs:
                lines[at] += f" (by {' and '.join(f'[{number[r]}]' for r in refs)})"
        if final.causes is None:
            summary = none[0] if none else "conflicting requirements"
        elif clashes:
            summary = f"conflicting requirements for {clashes[0]}"
        elif none:
            summary = none[0].split(" (available")[0]
        else:
            summary = f"conflicting requirements for {self._first_pivot(final)}"
        if len(lines) > _PROOF_MAX:
            half = _PROOF_MAX // 2
            lines = [*lines[:half], f"… ({len(lines) - 2 * half} more steps)", *lines[-half:]]
        return ResolveError(f"cannot resolve {self.r.root}: {summary.split(' (available')[0]}", lines)

    def _final(self, inc: _Inc) -> str:
        name = inc.pivot or ""
        for c in inc.causes or ():
            t = c.terms.get(name)
            if ROOT in c.terms and name != ROOT and t is not None and not t[0]:
                return f"{self.r.root}'s requirement {self._object(name, t[1])} cannot be met"
        return f"{self.r.root} cannot be resolved"

    @staticmethod
    def _first_pivot(final: _Inc) -> str:
        inc = final
        while inc.causes and any(c.causes for c in inc.causes):
            inc = next(c for c in inc.causes if c.causes)
        return inc.pivot or ""


class MemorySource:
    """A `VersionSource` from a dict: {name: {version: {dep: range}}}, plus yanked `name@version`s."""

    def __init__(self, packages: Mapping[str, Mapping[str, Mapping[str, str]]], yanked: Sequence[str] = ()) -> None:
        self.packages = packages
        self.yanked = set(yanked)
        self.calls: list[str] = []

    def candidates(self, name: str, wanted_by: str | None) -> list[Candidate]:
        self.calls.append(name)
        if name not in self.packages:
            raise RegistryError(f"no plugin named {name!r}")
        return [
            Candidate(name, Version.parse(v), dict(deps), f"{name}@{v}" in self.yanked)
            for v, deps in self.packages[name].items()
        ]
