"""Build every PDK's conformance plugin and run the spec against each: the cross-language matrix.

`nox -s build-all` → `build/conformance/<lang>/conformance.wasm` (+ `build.json`);
`nox -s conformance` → `build/conformance/report.json` and the readable `report.md`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conformance.spec import load_spec
from hatch_extism.data import pdk_dir
from hatch_extism.toolchains import BuildRequest, available_languages, get_toolchain
from plugin_format.files import atomic_write_text

BUILD_DIR = Path("build") / "conformance"


def conformance_languages() -> list[str]:
    """Languages that have both a driver and a conformance plugin."""
    return [lang for lang in available_languages() if (pdk_dir(lang) / "conformance").is_dir()]


def build(lang: str, out_root: Path = BUILD_DIR) -> dict[str, Any]:
    """Build one conformance plugin; returns what build.json records."""
    toolchain = get_toolchain(lang)
    progress = lambda msg: print(f"  [{lang}] {msg}", flush=True)  # noqa: E731
    toolchain.ensure_installed(progress)
    spec = load_spec()
    out = (out_root / lang / "conformance.wasm").resolve()
    result = toolchain.build(
        BuildRequest(project_dir=(pdk_dir(lang) / "conformance").resolve(), output=out, exports=sorted(spec.exports)),
        progress,
    )
    record = {
        "language": lang,
        "wasm": str(out),
        "size": out.stat().st_size,
        "wasi": result.wasi,
        "toolchain": result.toolchain,
        "toolchain_version": result.toolchain_version,
        "seconds": round(result.seconds, 3),
    }
    atomic_write_text(out_root / lang / "build.json", json.dumps(record, indent=2) + "\n")
    return record


def build_all(langs: list[str], out_root: Path = BUILD_DIR) -> int:
    failed = []
    for lang in langs:
        print(f"building {lang} conformance plugin …", flush=True)
        try:
            rec = build(lang, out_root)
        except Exception as exc:  # report every language, then fail
            print(f"  [{lang}] FAILED: {exc}", flush=True)
            failed.append(lang)
            continue
        print(
            f"  [{lang}] {rec['size']:,} bytes in {rec['seconds']:.2f} s ({rec['toolchain']} "
            f"{rec['toolchain_version']})",
            flush=True,
        )
    if failed:
        print(f"build failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def run_all(langs: list[str], out_root: Path = BUILD_DIR) -> dict[str, Any]:
    """Run the spec against each built plugin (one subprocess per language, so one crash
    cannot take the others down) and write report.json + report.md."""
    spec = load_spec()
    report: dict[str, Any] = {
        "spec_version": spec.version,
        "cases": [c.id for c in spec.cases],
        "results": {},
        "builds": {},
    }
    for lang in langs:
        wasm = out_root / lang / "conformance.wasm"
        build_json = out_root / lang / "build.json"
        if build_json.is_file():
            report["builds"][lang] = json.loads(build_json.read_text())
        print(f"conformance: {lang} …", flush=True)
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "conformance", "run", "--wasm", str(wasm), "--lang", lang, "--json"],
            capture_output=True,
            text=True,
        )
        try:
            doc = json.loads(proc.stdout)
            results = doc["results"]
        except (ValueError, KeyError):
            reason = (proc.stderr.strip().splitlines() or [f"runner exited {proc.returncode}"])[-1]
            results = {cid: {"status": "fail", "detail": reason, "ms": 0.0} for cid in report["cases"]}
        report["results"][lang] = results
        counts = {s: sum(r["status"] == s for r in results.values()) for s in ("pass", "fail", "skip")}
        print(
            f"  [{lang}] {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped "
            f"({time.perf_counter() - started:.1f} s)",
            flush=True,
        )
    atomic_write_text(out_root / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(out_root / "report.md", render_markdown(report))
    return report


def render_markdown(report: dict[str, Any]) -> str:
    langs = list(report["results"])
    mark = {"pass": "✅", "fail": "❌", "skip": "⏭️"}
    lines = [
        f"# Conformance matrix (spec {report['spec_version']})",
        "",
        "| case | " + " | ".join(langs) + " |",
        "|---|" + "---|" * len(langs),
    ]
    for cid in report["cases"]:
        cells = [mark[report["results"][lang].get(cid, {"status": "fail"})["status"]] for lang in langs]
        lines.append(f"| {cid} | " + " | ".join(cells) + " |")
    totals = []
    for lang in langs:
        res = report["results"][lang].values()
        totals.append(f"{sum(r['status'] == 'pass' for r in res)}/{len(report['cases'])}")
    lines.append("| **passed** | " + " | ".join(totals) + " |")
    if report.get("builds"):
        lines += ["", "| language | module size | wasi | toolchain | build time |", "|---|---|---|---|---|"]
        for lang, b in report["builds"].items():
            lines.append(
                f"| {lang} | {b['size']:,} B | {'yes' if b['wasi'] else 'no'} | "
                f"{b['toolchain']} {b['toolchain_version']} | {b['seconds']:.2f} s |"
            )
    problems = [
        f"- **{lang}** `{cid}`: {r['detail']}"
        for lang in langs
        for cid, r in report["results"][lang].items()
        if r["status"] != "pass"
    ]
    if problems:
        lines += ["", "## Failures and skips", "", *problems]
    return "\n".join(lines) + "\n"


def failures(report: dict[str, Any]) -> int:
    return sum(r["status"] == "fail" for res in report["results"].values() for r in res.values())
