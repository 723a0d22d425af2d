"""The plugin's exports: each function named in plugin.yaml's `exports` is one wasm export.

It reads the call's input, returns or sets the output, and raises to fail the call (the host
gets the message). The API is the `extism_pdk` module, bundled into the wasm with this file.
"""

import extism_pdk as pdk


def greet():
    """{"name": "Ada"} -> {"greeting": "Hello, Ada!"}"""
    try:
        args = pdk.input_json()
    except ValueError:
        raise pdk.Error("greet: the input is not a JSON object") from None
    if not isinstance(args, dict):
        raise pdk.Error("greet: the input is not a JSON object")
    if "name" not in args:
        raise pdk.Error('greet: missing "name" (a string)')
    if not isinstance(args["name"], str):
        raise pdk.Error('greet: "name" must be a string')
    pdk.output_json({"greeting": f"Hello, {args['name']}!"})
