"""A plugin project on the official Extism Go PDK, `github.com/extism/go-pdk` v1.1.3, brought in
from the Go module proxy the way its author would (`go mod download` into the module cache, or
`go mod vendor`), its checksum pinned in go.sum. Builds themselves run offline (the Go driver)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

GO_PDK = "github.com/extism/go-pdk"

GO_SUM = """\
github.com/extism/go-pdk v1.1.3 h1:hfViMPWrqjN6u67cIYRALZTZLk/enSPpNKa+rZ9X2SQ=
github.com/extism/go-pdk v1.1.3/go.mod h1:Gz+LIU/YCKnKXhgge8yo5Yu1F/lbv7KtKFkiCSzW/P4=
"""

GO_MAIN = """\
package main

import (
	"strconv"
	"strings"

	"github.com/extism/go-pdk"
)

//go:wasmexport count_vowels
func countVowels() int32 {
	n := 0
	for _, c := range strings.ToLower(pdk.InputString()) {
		if strings.ContainsRune("aeiou", c) {
			n++
		}
	}
	pdk.OutputString(`{"count":` + strconv.Itoa(n) + `}`)
	return 0
}

func main() {}
"""


def official_go_project(project: Path, name: str, *, vendor: bool) -> Path:
    """Write the count-vowels project into `project` (plugin.yaml names it `name`) and bring the
    official go-pdk in: vendored (`go mod vendor`) or into the module cache (`go mod download`)."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "go.mod").write_text(f"module example.com/countvowels\n\ngo 1.24\n\nrequire {GO_PDK} v1.1.3\n")
    (project / "go.sum").write_text(GO_SUM)
    (project / "main.go").write_text(GO_MAIN)
    (project / "plugin.yaml").write_text(
        f'name: "{name}"\nversion: 0.1.0\nlanguage: go\nwasi: true\n'
        "exports:\n  - name: count_vowels\n    description: Count the vowels of a text\n    input: text\n"
    )
    go = shutil.which("go") or "go"
    argv = [go, "mod", "vendor"] if vendor else [go, "mod", "download", GO_PDK]
    env = {**os.environ, "GOFLAGS": "", "GOTOOLCHAIN": "local"}
    done = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, f"{' '.join(argv[1:])}: {done.stderr}"
    if vendor:
        assert (project / "vendor" / "github.com" / "extism" / "go-pdk" / "extism_pdk.go").is_file()
    return project
