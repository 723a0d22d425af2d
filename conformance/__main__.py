"""`python -m conformance run --wasm PATH` — run the spec against any wasm module."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from conformance.runner import CaseResult, Runner, RunnerError, summary
from conformance.spec import SPEC_PATH, SpecError, load_spec
from plugin_format.cli import add_version_flag

EXAMPLES = """examples:
  python -m conformance run --wasm build/conformance/c/conformance.wasm
  python -m conformance run --wasm my.wasm --lang go --json > results.json
  python -m conformance run --wasm my.wasm --case echo-16mib --case vars-persist
  python -m conformance list
  python -m conformance build c zig      # build conformance plugins
  python -m conformance matrix           # run all built plugins, write build/conformance/report.*
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Run the extism-platform conformance spec against a wasm module.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version_flag(p)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run the spec against one module",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--wasm", required=True, type=Path, help="the module to test")
    run.add_argument(
        "--wasi",
        action="store_true",
        default=None,
        help="load with WASI (default: when the module imports wasi_snapshot_preview1)",
    )
    run.add_argument("--lang", help="apply the spec's documented skips for this language")
    run.add_argument("--case", action="append", default=[], metavar="ID", help="run only these cases")
    run.add_argument("--spec", type=Path, default=SPEC_PATH, help="another spec file (default: %(default)s)")
    run.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    run.add_argument(
        "--allow-missing", action="store_true", help="run even when exports are missing (their cases fail)"
    )
    sub.add_parser("list", help="list the spec's cases")
    b = sub.add_parser("build", help="build PDK conformance plugins into build/conformance/<lang>/")
    b.add_argument("langs", nargs="*", help="languages (default: every PDK with a conformance plugin)")
    m = sub.add_parser("matrix", help="run the spec against every built plugin; write report.json/.md")
    m.add_argument("langs", nargs="*", help="languages (default: every PDK with a conformance plugin)")
    return p


def _line(r: CaseResult) -> str:
    tag = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}[r.status]
    detail = f"  {r.detail}" if r.detail else ""
    return f"{tag}  {r.id:<32} {r.ms:9.1f} ms{detail}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        spec = load_spec(getattr(args, "spec", SPEC_PATH))
        if args.command == "list":
            for case in spec.cases:
                print(f"{case.id:<32} {case.description}")
            print(f"{len(spec.cases)} cases, spec version {spec.version}")
            return 0
        if args.command in ("build", "matrix"):
            from conformance import matrix

            langs = args.langs or matrix.conformance_languages()
            if args.command == "build":
                return matrix.build_all(langs)
            report = matrix.run_all(langs)
            print(f"wrote {matrix.BUILD_DIR / 'report.json'} and report.md")
            return 1 if matrix.failures(report) else 0
        cases = spec.cases
        if args.case:
            unknown = set(args.case) - {c.id for c in spec.cases}
            if unknown:
                raise SpecError(f"unknown case id(s): {', '.join(sorted(unknown))} (see `python -m conformance list`)")
            cases = [c for c in spec.cases if c.id in args.case]
        runner = Runner(
            args.wasm, spec, wasi=args.wasi, language=args.lang, allow_missing=args.allow_missing, cases=cases
        )
        printer = None if args.json else (lambda r: print(_line(r), flush=True))
        results = runner.run(on_result=printer)
    except (SpecError, RunnerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        doc = {
            "wasm": str(args.wasm),
            "sha256": runner.sha256,
            "wasi": runner.wasi,
            "spec_version": spec.version,
            "results": {r.id: r.to_dict() for r in results},
            "summary": summary(results),
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print(summary(results))
    return 1 if any(r.status == "fail" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
