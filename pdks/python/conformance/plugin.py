"""The Python PDK's conformance plugin: every export of conformance/CONTRACT.md."""

import os

import extism_pdk as pdk


@pdk.import_fn("extism:host/user", "reverse_bytes")
def reverse_bytes(data: bytes) -> bytes:
    """The runner's host function: the block's bytes, reversed."""


def echo():
    pdk.output(pdk.input())


def greet():
    return f"Hello, {pdk.input_str()}!"


def reverse():
    return pdk.input()[::-1]


def input_size():
    return str(pdk.input_length())


def json_sum():
    try:
        value = pdk.input_json()
        a, b = value["a"], value["b"]
    except (ValueError, TypeError, KeyError) as exc:
        raise pdk.Error(f"json_sum: {type(exc).__name__}: {exc}") from None
    if not all(type(n) is int for n in (a, b)):
        raise pdk.Error("json_sum: members a and b must be integers")
    pdk.output_json({"sum": a + b})


def config():
    key = pdk.input_str()
    value = pdk.config.get(key)
    if value is None:
        raise pdk.Error(f"config key '{key}' is not set")
    return value


def var_counter():
    count = int(pdk.var.get_str("counter") or 0) + 1
    pdk.var.set("counter", str(count))
    return str(count)


def var_set():
    key, _, value = pdk.input().partition(b"=")
    pdk.var.set(key.decode("utf-8"), value)


def var_get():
    key = pdk.input_str()
    value = pdk.var.get(key)
    if value is None:
        raise pdk.Error(f"var '{key}' is not set")
    return value


def var_delete():
    pdk.var.remove(pdk.input_str())


def fail():
    raise pdk.Error(pdk.input_str())


def trap():
    os.abort()  # wasm `unreachable`: the instance is gone


def _status_and_body(response):
    return str(response.status).encode() + b"\n" + response.body


def http_get():
    return _status_and_body(pdk.http_request(pdk.input_str(), headers={"X-Conformance": "1"}))


def http_post():
    url = pdk.config.get("url")
    if url is None:
        raise pdk.Error("config key 'url' is not set")
    headers = {"X-Conformance": "1", "Content-Type": "text/plain"}
    return _status_and_body(pdk.http_request(url, "POST", headers, pdk.input()))


def host_reverse():
    return reverse_bytes(pdk.input())


def log():
    message = pdk.input_str()
    pdk.log_debug(f"debug: {message}")
    pdk.log_info(f"info: {message}")
    pdk.log_warn(f"warn: {message}")
    pdk.log_error(f"error: {message}")


def spin():
    while True:
        pass


def grow():
    pages = int(pdk.input_str())
    block = bytearray(pages * 65536)  # MemoryError (an error at the host) when memory cannot grow
    block[-1:] = b"\1"
    return "ok"


def large_output():
    size = int(pdk.input_str())
    return (bytes(range(251)) * (size // 251 + 1))[:size]
