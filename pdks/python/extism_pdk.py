"""Write Extism plugins in Python.

A plugin is a plain module (`plugin.py`); each function named in plugin.yaml's `exports` becomes
a wasm export. Inside a call, read the input, do the work, write the output::

    import extism_pdk as pdk

    def greet():
        pdk.output(f"Hello, {pdk.input_str()}!")

An uncaught exception fails the call: `raise pdk.Error("msg")` sets exactly "msg" as the
error, any other exception "<Type>: <message>". Returning a `str` or bytes from an export is the
same as calling `output()` with it.

This module exists inside the plugin only (the build bundles it); the kernel behind it is the
built-in `_extism` module of the PDK's C runtime.
"""

import _extism

__all__ = [
    "Error",
    "HttpResponse",
    "config",
    "http_request",
    "import_fn",
    "input",
    "input_json",
    "input_length",
    "input_str",
    "log_debug",
    "log_error",
    "log_info",
    "log_trace",
    "log_warn",
    "output",
    "output_json",
    "var",
]

Error = _extism.Error


# ---- input and output ------------------------------------------------------------------------


def input() -> bytes:  # noqa: A001 (shadows the builtin inside this module only)
    """The call's input, as bytes."""
    return _extism.input()


def input_length() -> int:
    """The size of the call's input in bytes, without reading it."""
    return _extism.input_length()


def input_str() -> str:
    """The call's input decoded as UTF-8 (UnicodeDecodeError when it is not)."""
    return _extism.input().decode("utf-8")


def input_json():
    """The call's input parsed as JSON (json.JSONDecodeError, a ValueError, when it is not)."""
    import json

    return json.loads(_extism.input())


def output(data: bytes | bytearray | memoryview | str) -> None:
    """Set the call's output: bytes as they are, a str as UTF-8. The last call wins."""
    _extism.output(data.encode("utf-8") if isinstance(data, str) else data)


def output_json(value) -> None:
    """Set the call's output to `value` as compact JSON (UTF-8)."""
    import json

    output(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


# ---- config and vars ---------------------------------------------------------------------------


class Config:
    """The host's read-only configuration (the manifest's `config`); use the `config` instance."""

    def get(self, key: str) -> str | None:
        """The value of `key`, or None when it is not set (an empty value also reads as None)."""
        value = _extism.config_get(key)
        return None if value is None else value.decode("utf-8")


class Vars:
    """Byte values kept by the host for the life of the plugin instance; use the `var` instance."""

    def get(self, key: str) -> bytes | None:
        """The value of `key`, or None when it is not set."""
        return _extism.var_get(key)

    def get_str(self, key: str) -> str | None:
        """The value of `key` decoded as UTF-8, or None when it is not set."""
        value = _extism.var_get(key)
        return None if value is None else value.decode("utf-8")

    def set(self, key: str, value: bytes | bytearray | memoryview | str) -> None:
        """Store `value` (a str as UTF-8) under `key`. An empty value removes the var."""
        _extism.var_set(key, value.encode("utf-8") if isinstance(value, str) else value)

    def remove(self, key: str) -> None:
        """Remove `key` (no error when it is not set)."""
        _extism.var_set(key, None)


config = Config()
var = Vars()


# ---- logging -----------------------------------------------------------------------------------


def log_trace(message: str) -> None:
    """Log `message` at trace level (the host decides which levels it keeps)."""
    _extism.log(0, message)


def log_debug(message: str) -> None:
    """Log `message` at debug level."""
    _extism.log(1, message)


def log_info(message: str) -> None:
    """Log `message` at info level."""
    _extism.log(2, message)


def log_warn(message: str) -> None:
    """Log `message` at warn level."""
    _extism.log(3, message)


def log_error(message: str) -> None:
    """Log `message` at error level."""
    _extism.log(4, message)


# ---- HTTP --------------------------------------------------------------------------------------


class HttpResponse:
    """The result of `http_request`: the status code and the body bytes."""

    __slots__ = ("status", "body")

    def __init__(self, status: int, body: bytes):
        self.status = status
        self.body = body

    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")

    def json(self):
        """The body parsed as JSON."""
        import json

        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"HttpResponse(status={self.status}, body=<{len(self.body)} bytes>)"


def http_request(
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | bytearray | memoryview | str | None = None,
) -> HttpResponse:
    """Send an HTTP request through the host and return its response.

    The host must allow the URL's host (the manifest's `allowed_hosts`); a denied request fails
    the whole call. Non-2xx statuses are returned, not raised.
    """
    import json

    request = json.dumps({"url": url, "method": method.upper(), "headers": dict(headers or {})})
    if isinstance(body, str):
        body = body.encode("utf-8")
    status, data = _extism.http_request(request, body)
    return HttpResponse(status, data)


# ---- host functions ----------------------------------------------------------------------------


def import_fn(module: str, name: str):
    """Declare a host function: decorate a stub whose signature says how to call it.

        @import_fn("extism:host/user", "reverse_bytes")
        def reverse_bytes(data: bytes) -> bytes: ...

    Every wasm parameter and result is an i64. An `int` argument is passed as it is; bytes or a
    str is copied into a new kernel block whose offset is passed. The return annotation says
    what the i64 result is: `bytes` / `str` read (and free) the returned block, `None` means the
    function returns nothing, `int` (or no annotation) returns the number. The build links the
    import from this decorator, so `module` and `name` must be string literals.
    """
    index, params, has_result = _extism.import_index(module, name)

    def decorate(stub):
        result = _result_kind(stub.__annotations__.get("return", int)) if has_result else None

        def call(*args):
            if len(args) != params:
                raise TypeError(f"{name}() takes {params} arguments ({len(args)} given)")
            value = _extism.call_import(index, *map(_to_i64, args))
            if result is bytes or result is str:
                data = _extism.load(value)
                _extism.free(value)
                return data if result is bytes else data.decode("utf-8")
            return value

        call.__name__, call.__qualname__, call.__doc__ = stub.__name__, stub.__qualname__, stub.__doc__
        call.__wrapped__ = stub
        return call

    return decorate


def _result_kind(annotation):
    """bytes, str or int, from a return annotation (also written as a string)."""
    kinds = {"bytes": bytes, "str": str}
    return kinds.get(annotation if isinstance(annotation, str) else getattr(annotation, "__name__", ""), int)


def _to_i64(value) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _extism.alloc(value)
    raise TypeError(f"a host function argument must be int, bytes or str, not {type(value).__name__}")
