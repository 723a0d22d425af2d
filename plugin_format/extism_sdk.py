"""The one way the platform imports the `extism` SDK, with the process setting every user wants.

The runtime captures a Rust backtrace for every guest error when RUST_BACKTRACE=1 is inherited
(~60 ms each, measured here); library backtraces are noise for plugin errors, so they are off
unless the user set RUST_LIB_BACKTRACE. It must be set before the runtime's first error.
"""

import os

os.environ.setdefault("RUST_LIB_BACKTRACE", "0")

import extism  # noqa: E402
from extism.extism import CompiledPlugin  # noqa: E402

__all__ = ["CompiledPlugin", "extism"]
