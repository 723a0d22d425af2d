"""Every project template, the way an author uses it: `extism-plugin init` → `extism-plugin build
--unsigned` → the real Extism host. A fresh project must build and pass its own declared tests
at once (issue 5). Each language is initialised and built once per session; languages whose
toolchain is missing are skipped, naming what to install.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from hatch_extism.project_init import template_languages
from hatch_extism.toolchains import get_toolchain
from plugin_format.extism_sdk import extism
from plugin_format.manifest import PluginManifest, load_manifest
from plugin_format.wasm import imports_wasi
from tests.conftest import run_cli

LANGUAGES = template_languages()
# `{{ name }}`, `{% block … %}`: jinja left in an output file (Rust's `{{` in format strings is not).
JINJA_LEFTOVER = re.compile(r"\{\{-? *[A-Za-z_][\w.]* *-?\}\}|\{%-? ")


def plugin_cli(*args: str):
    return run_cli("-m", "extism_platform.cli.plugin", *args)


def init(lang: str, directory: Path) -> Path:
    proc = plugin_cli("init", f"@tpl/hello-{lang}", "--lang", lang, "--dir", str(directory), "--json")
    assert proc.returncode == 0, proc.stderr
    return directory


@dataclass(frozen=True)
class Built:
    project: Path
    manifest: PluginManifest
    wasm: bytes

    def plugin(self) -> extism.Plugin:
        return extism.Plugin(self.wasm, wasi=self.manifest.wasi, functions=[])


class TemplateBuilds:
    """init + build of each language's template, at most once per session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, Built] = {}

    def get(self, lang: str) -> Built:
        if lang not in self._built:
            status = get_toolchain(lang).detect()
            if not status.found:
                pytest.skip(f"no {lang} toolchain: {status.install_hint}")
            project = init(lang, self.root / lang)
            proc = plugin_cli("build", str(project), "--unsigned", "--json")
            assert proc.returncode == 0, proc.stderr
            wasm = Path(json.loads(proc.stdout)["wasm"])
            self._built[lang] = Built(project, load_manifest(project), wasm.read_bytes())
        return self._built[lang]


@pytest.fixture(scope="session")
def template_builds(tmp_path_factory: pytest.TempPathFactory) -> TemplateBuilds:
    return TemplateBuilds(tmp_path_factory.mktemp("templates"))


@pytest.fixture(params=LANGUAGES)
def built(request: pytest.FixtureRequest, template_builds: TemplateBuilds) -> Built:
    return template_builds.get(request.param)


def test_every_pdk_has_a_template() -> None:
    pdks = {p.name for p in (Path(__file__).resolve().parent.parent / "pdks").iterdir() if p.is_dir()}
    assert {"c", "cpp", "go", "rust", "typescript", "zig"} <= set(LANGUAGES) <= pdks


@pytest.mark.parametrize("lang", LANGUAGES)
def test_init_renders_a_complete_project(lang: str, tmp_path: Path) -> None:
    project = init(lang, tmp_path / "p")
    files = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    assert {"plugin.yaml", "pyproject.toml", "README.md", "DEVELOPING.md", ".gitignore"} <= files
    for name in files:  # no template syntax left, no partial emitted
        assert not Path(name).name.startswith("_"), name
        text = (project / name).read_text(encoding="utf-8")
        assert not JINJA_LEFTOVER.search(text), name
    manifest = load_manifest(project)
    assert (manifest.name, manifest.version, manifest.language, manifest.license) == (
        f"@tpl/hello-{lang}",
        "0.1.0",
        lang,
        "MIT",
    )
    assert manifest.description
    greet = manifest.export("greet")
    assert greet is not None and greet.input_schema and greet.output_schema
    assert greet.input_schema["required"] == ["name"]
    kinds = sorted(key for test in manifest.tests for key in test if key.startswith("expect_"))
    assert kinds == ["expect_error", "expect_json"]
    notes = (project / "DEVELOPING.md").read_text(encoding="utf-8")
    assert "hatch build" in notes and "extism-plugin test" in notes and f"@tpl/hello-{lang}" in notes
    # README.md is the consumer's page (published): what it does, its tools, how to install; no build notes
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert f"extism-plugin add @tpl/hello-{lang}" in readme and "| `greet` |" in readme
    assert "hatch build" not in readme and "signing key" not in readme.lower()
    assert "dist/\n" in (project / ".gitignore").read_text()


@pytest.mark.toolchain
def test_module_imports_wasi_exactly_when_plugin_yaml_says(built: Built) -> None:
    assert imports_wasi(built.wasm) == built.manifest.wasi


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('{"name": "Zoë"}', "Zoë"),
        # Escapes decoded (a surrogate pair too), other members of any shape skipped.
        ('{"tags": [1, {"name": 2}], "name": "A\\u00efda \\ud83d\\ude00 \\"x\\"\\n", "n": null}', 'Aïda 😀 "x"\n'),
        ('  {"name" : ""}  ', ""),
    ],
)
def test_greet_in_the_real_host(built: Built, text: str, name: str) -> None:
    out = built.plugin().call("greet", text.encode())
    assert json.loads(out) == {"greeting": f"Hello, {name}!"}


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", 'missing "name"'),
        ('{"name": 42}', '"name"'),
        ('{"name": "Ada"', ""),
        ("not json", ""),
    ],
)
def test_greet_rejects_bad_input_with_an_error(built: Built, text: str, message: str) -> None:
    with pytest.raises(extism.Error) as caught:
        built.plugin().call("greet", text.encode())
    assert message in str(caught.value)


@pytest.mark.toolchain
def test_declared_tests_pass_with_extism_plugin_test(built: Built) -> None:
    wasm = built.project / "dist" / f"{built.manifest.artifact_stem}.wasm"
    proc = plugin_cli("test", str(built.project), "--wasm", str(wasm), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert (report["passed"], report["failed"]) == (len(built.manifest.tests), 0)
