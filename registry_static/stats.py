"""`extism-registry stats`: downloads per plugin, version and day, from access logs.

Reads the JSON lines of `serve --access-log` and the combined log format of nginx, Apache and most
CDNs (any mix, several files, `.gz` too). A download is a GET of a version's blob
(`…/blobs/sha256/<hex>`, under any path prefix) answered 200 or 206; HEAD requests, 304s and errors
are not downloads. Blobs are mapped to a plugin and version through the registry's index files:

- a wasm blob that belongs to one version counts for that version;
- identical modules published as several versions (or plugins) share one wasm blob, which says
  nothing about which of them was wanted: those versions count their plugin.json blob instead
  (unique per version, since it names it, and fetched with the wasm by every platform client);
- every other blob (signatures, READMEs, the other plugin.json files) is not a download.

A 206 counts as one download, as CDNs log ranged responses; a client that resumes a download in
several ranges is counted once per range (combined logs do not say which range was served).

No personal data: client addresses, identities, user agents and referrers are never read into the
figures, so neither the output nor the stats file (`stats/downloads.json` in the registry, which the
site reads) can hold them.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from plugin_format.errors import RegistryError
from plugin_format.files import atomic_write
from registry_static.repository import Repository

STATS_FILE = "stats/downloads.json"
STATS_SCHEMA = "extism-registry/downloads@1"

BLOB_RE = re.compile(r"/blobs/sha256/([0-9a-f]{64})(?:$|[?#])")
# host ident user [time] "METHOD target PROTO" status bytes ["referer" "agent"]: only the
# time, the request and the status are captured; the rest is matched and thrown away.
COMBINED_RE = re.compile(
    r'^\S+ \S+ (?:\S+|"[^"]*") \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>\S+)(?: [^"]*)?" '
    r"(?P<status>\d{3}) (?:\d+|-)"
)


@dataclass(frozen=True)
class Request:
    day: str  # YYYY-MM-DD, UTC
    method: str
    path: str
    status: int


@dataclass
class LineCounts:
    read: int = 0
    requests: int = 0
    skipped: int = 0  # lines that are neither format (noise, torn lines)

    def to_dict(self) -> dict[str, int]:
        return {"read": self.read, "requests": self.requests, "skipped": self.skipped}


def parse_line(line: str) -> Request | None:
    """One access-log line (our JSON lines, or combined log format) as a Request, or None."""
    line = line.strip()
    if not line:
        return None
    if line.startswith("{"):
        try:
            doc = json.loads(line)
            when = datetime.strptime(doc["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            return Request(when.date().isoformat(), str(doc["method"]), str(doc["path"]), int(doc["status"]))
        except (ValueError, KeyError, TypeError):
            return None
    m = COMBINED_RE.match(line)
    if not m:
        return None
    try:
        when = datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None
    return Request(when.date().isoformat(), m["method"], m["target"], int(m["status"]))


def read_lines(path: Path) -> Iterator[str]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            yield from f
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read the access log ({exc.strerror or exc})") from None


def blob_map(repo: Repository) -> tuple[dict[str, tuple[str, str]], set[str]]:
    """(blob sha256 → (plugin, version) for the blobs that count as downloads, the other blobs)."""
    entries = []
    for name in repo.packages():
        idx = repo.index(name)
        entries += [(name, e) for e in (idx.versions if idx else [])]
    owners = Counter(e.wasm.sha256 for _, e in entries)
    counted: dict[str, tuple[str, str]] = {}
    others: set[str] = set()
    for name, e in entries:
        others |= {e.sig.sha256} | ({e.readme.sha256} if e.readme else set())
        if owners[e.wasm.sha256] == 1:
            counted[e.wasm.sha256] = (name, e.version)
            others.add(e.plugin_json.sha256)
        else:  # a shared module: its plugin.json tells the versions apart
            counted[e.plugin_json.sha256] = (name, e.version)
            others.add(e.wasm.sha256)
    return counted, others - set(counted)


@dataclass
class Downloads:
    """The figures: per plugin (total, per version, per day), plus what was read."""

    per_version: Counter[tuple[str, str]] = field(default_factory=Counter)
    per_day: Counter[tuple[str, str]] = field(default_factory=Counter)  # (plugin, day)
    unknown_blobs: int = 0  # downloads of blobs the index does not know (another registry's? deleted?)
    lines: LineCounts = field(default_factory=LineCounts)
    days: set[str] = field(default_factory=set)

    def to_dict(self, since: str | None = None) -> dict[str, Any]:
        plugins: dict[str, Any] = defaultdict(lambda: {"total": 0, "versions": {}, "days": {}})
        for (name, version), n in sorted(self.per_version.items()):
            plugins[name]["versions"][version] = n
            plugins[name]["total"] += n
        for (name, day), n in sorted(self.per_day.items()):
            plugins[name]["days"][day] = n
        return {
            "schema": STATS_SCHEMA,
            "since": since or (min(self.days) if self.days else None),
            "until": max(self.days) if self.days else None,
            "total": sum(self.per_version.values()),
            "plugins": dict(sorted(plugins.items())),
            "unknown_blobs": self.unknown_blobs,
            "lines": self.lines.to_dict(),
        }


def count_downloads(
    lines: Iterable[str],
    blobs: dict[str, tuple[str, str]],
    *,
    since: date | None = None,
    other_blobs: frozenset[str] | set[str] = frozenset(),
) -> Downloads:
    """Downloads of the blobs in `blobs` (see `blob_map`); `other_blobs` are the registry's blobs that are not."""
    out = Downloads()
    for line in lines:
        out.lines.read += 1
        req = parse_line(line)
        if req is None:
            out.lines.skipped += 1
            continue
        out.lines.requests += 1
        if since is not None and req.day < since.isoformat():
            continue
        if req.method != "GET" or not (200 <= req.status < 300):
            continue  # HEAD never counts (a client checking first would be counted twice), nor 304/4xx/5xx
        m = BLOB_RE.search(req.path)
        if not m:
            continue
        hit = blobs.get(m[1])
        if hit is None:
            if m[1] not in other_blobs:
                out.unknown_blobs += 1
            continue
        out.per_version[hit] += 1
        out.per_day[(hit[0], req.day)] += 1
        out.days.add(req.day)
    return out


def compute(registry: Path, logs: list[Path], *, since: date | None = None) -> dict[str, Any]:
    """Read every log and return the figures (`Downloads.to_dict`)."""
    repo = Repository(Path(registry), keys_dir=Path("/nonexistent"))
    blobs, others = blob_map(repo)

    def all_lines() -> Iterator[str]:
        for log in logs:
            yield from read_lines(Path(log))

    res = count_downloads(all_lines(), blobs, since=since, other_blobs=others)
    return res.to_dict(since.isoformat() if since else None)


def write_stats(registry: Path, figures: dict[str, Any]) -> Path:
    """Store the figures where `extism-registry site` finds them (atomically)."""
    path = Path(registry) / STATS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(figures, indent=1, sort_keys=False).encode() + b"\n")
    return path


def table(figures: dict[str, Any]) -> str:
    """The figures as text: one row per plugin version, then downloads per day."""
    rows = [("plugin", "version", "downloads")]
    for name, p in figures["plugins"].items():
        for version, n in sorted(p["versions"].items(), key=lambda kv: -kv[1]):
            rows.append((name, version, str(n)))
        rows.append((name, "(all)", str(p["total"])))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}" for r in rows]
    days: Counter[str] = Counter()
    for p in figures["plugins"].values():
        days.update(p["days"])
    if days:
        lines += ["", "day          downloads"]
        lines += [f"{d}  {n:>9}" for d, n in sorted(days.items())]
    span = f"{figures['since']} to {figures['until']}" if figures["until"] else "no downloads"
    lines += ["", f"{figures['total']} downloads, {span}; {figures['lines']['read']} lines read"]
    return "\n".join(lines)
