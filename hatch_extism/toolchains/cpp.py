"""C++ driver: zig's clang++ against wasi libc++ (a reactor module: load it with WASI).

Everything but the compiler, the language standard, the source patterns and the target flags
is the C driver's. Exceptions and RTTI are off, as the C++ PDK expects.
"""

from __future__ import annotations

from hatch_extism.toolchains.c import CToolchain


class CppToolchain(CToolchain):
    language = "cpp"
    compiler = "c++"
    standard = "-std=c++17"
    patterns = ("*.cpp", "*.cc", "*.cxx")
    base_flags = (
        "--target=wasm32-wasi",
        "-mexec-model=reactor",
        "-fno-exceptions",
        "-fno-rtti",
    )
