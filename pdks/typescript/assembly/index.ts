/**
 * The Extism PDK for AssemblyScript: write Extism plugins in a TypeScript subset.
 *
 * ```ts
 * import { inputString, outputString } from "extism-pdk";
 *
 * export function greet(): i32 {
 *   outputString(`Hello, ${inputString()}!`);
 *   return 0;
 * }
 * ```
 *
 * Every exported function of the entry file is a plugin function: it takes no arguments,
 * reads the call's input, writes its output, and returns 0 (success) or non-zero after
 * `setError`. Strings cross the boundary as UTF-8. JSON: `Json.parse`, `JsonValue`.
 */

import * as kernel from "./kernel";
import { Memory, decode } from "./memory";
import { Json } from "./json";
import "./abort";
export { Memory } from "./memory";
export { Json, JsonResult, JsonType, JsonValue, JSON_MAX_DEPTH } from "./json";

// ---------------------------------------------------------------------------------------------
// Input, output, errors

/** Length of the call's input in bytes. */
export function inputLength(): u64 {
  return kernel.input_length();
}

/** The call's input bytes. */
export function input(): Uint8Array {
  const length = <i32>kernel.input_length();
  const bytes = new Uint8Array(length);
  const base = bytes.dataStart;
  let i = 0;
  for (; i + 8 <= length; i += 8) store<u64>(base + <usize>i, kernel.input_load_u64(<u64>i));
  for (; i < length; i++) store<u8>(base + <usize>i, kernel.input_load_u8(<u64>i));
  return bytes;
}

/**
 * The call's input decoded as UTF-8; ill-formed bytes become U+FFFD. To reject them instead,
 * read JSON with `Json.parse(input())`, which checks UTF-8.
 */
export function inputString(): string {
  return decode(input());
}

/** Sets the call's output to a copy of `data`. */
export function output(data: Uint8Array): void {
  outputMemory(Memory.fromBytes(data));
}

/** Sets the call's output to `text` encoded as UTF-8. */
export function outputString(text: string): void {
  outputMemory(Memory.fromString(text));
}

/** Sets the call's output to the bytes of a kernel block (no copy). */
export function outputMemory(mem: Memory): void {
  kernel.output_set(mem.offset, mem.length);
}

/**
 * Sets the call's error message; the plugin function then returns non-zero.
 *
 * ```ts
 * if (name.length == 0) { setError("name is empty"); return 1; }
 * ```
 *
 * `throw new Error(message)` also fails the call with `message` (plus its source location),
 * but as a trap: prefer `setError` for expected failures.
 */
export function setError(message: string): void {
  kernel.error_set(Memory.fromString(message).offset);
}

// ---------------------------------------------------------------------------------------------
// Config and vars

/** The host's read-only configuration (the manifest's `config`). */
export namespace Config {
  /** The value of config key `key`, or `null` when the host did not set it (or set it to ""). */
  export function get(key: string): string | null {
    const value = lookup(key, false);
    return value !== null ? decode(value) : null;
  }
}

/**
 * Plugin variables: bytes kept by the host for the lifetime of the plugin instance, across
 * calls. An empty value is the same as no value (the kernel stores nothing).
 */
export namespace Var {
  /** The bytes of variable `key`, or `null` when it is not set. */
  export function get(key: string): Uint8Array | null {
    return lookup(key, true);
  }

  /** Variable `key` decoded as UTF-8, or `null` when it is not set. */
  export function getString(key: string): string | null {
    const value = lookup(key, true);
    return value !== null ? decode(value) : null;
  }

  /** Sets variable `key` to a copy of `value`. */
  export function set(key: string, value: Uint8Array): void {
    assignVar(key, Memory.fromBytes(value).offset);
  }

  /** Sets variable `key` to `value` encoded as UTF-8. */
  export function setString(key: string, value: string): void {
    assignVar(key, Memory.fromString(value).offset);
  }

  /** Removes variable `key` (nothing happens when it is not set). */
  export function remove(key: string): void {
    assignVar(key, 0);
  }
}

// Blocks handed to config_get, var_get, var_set, log_* and http_request are never freed here:
// newer kernels free them themselves (a second free could release a block reused meanwhile),
// and every block is reclaimed when the call ends anyway.

/** The bytes of a var (`isVar`) or config value, or `null` when absent. */
function lookup(key: string, isVar: bool): Uint8Array | null {
  const name = Memory.fromString(key).offset;
  const offset = isVar ? kernel.var_get(name) : kernel.config_get(name);
  if (offset == 0) return null;
  const value = Memory.find(offset);
  const bytes = value.toBytes();
  value.free();
  return bytes;
}

/** Sets var `key` to the kernel block at `value` (0 removes it); the kernel keeps a copy. */
function assignVar(key: string, value: u64): void {
  kernel.var_set(Memory.fromString(key).offset, value);
}

// ---------------------------------------------------------------------------------------------
// Logging

/**
 * Log messages through the host's logger; the host decides which levels it keeps. `trace`
 * needs a runtime that provides `log_trace` (a module using it does not load on older ones).
 */
export namespace Log {
  /** Logs `message` at trace level. */
  export function trace(message: string): void {
    kernel.log_trace(Memory.fromString(message).offset);
  }
  /** Logs `message` at debug level. */
  export function debug(message: string): void {
    kernel.log_debug(Memory.fromString(message).offset);
  }
  /** Logs `message` at info level. */
  export function info(message: string): void {
    kernel.log_info(Memory.fromString(message).offset);
  }
  /** Logs `message` at warn level. */
  export function warn(message: string): void {
    kernel.log_warn(Memory.fromString(message).offset);
  }
  /** Logs `message` at error level. */
  export function error(message: string): void {
    kernel.log_error(Memory.fromString(message).offset);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** An HTTP request for `Http.request`. */
export class HttpRequest {
  /** Request headers, sent in insertion order. */
  readonly headers: Map<string, string> = new Map<string, string>();

  /** A request; `method` is e.g. `"GET"` or `"POST"`. */
  constructor(
    public method: string,
    public url: string,
  ) {}

  /** Sets a request header and returns the request, for chaining. */
  header(name: string, value: string): HttpRequest {
    this.headers.set(name, value);
    return this;
  }

  /** The request as the kernel's JSON: `{"method":…,"url":…,"headers":{…}}`. */
  toJson(): string {
    const names = this.headers.keys();
    const fields = new Array<string>(names.length);
    for (let i = 0; i < names.length; i++) {
      fields[i] = Json.quote(names[i]) + ":" + Json.quote(this.headers.get(names[i]));
    }
    return `{"method":${Json.quote(this.method)},"url":${Json.quote(this.url)},"headers":{${fields.join(",")}}}`;
  }
}

/** The answer to an `Http.request`. */
export class HttpResponse {
  constructor(
    /** HTTP status code, e.g. 200. */
    public readonly status: i32,
    /** The response body. */
    public readonly body: Uint8Array,
  ) {}

  /** The body decoded as UTF-8. */
  bodyString(): string {
    return decode(this.body);
  }
}

/**
 * Outgoing HTTP through the host. The host only allows the hosts listed in the manifest's
 * `allowed_hosts`; a denied or failed request fails the whole call (it cannot be caught).
 */
export namespace Http {
  /** Sends `request` with an optional body and waits for the whole response. */
  export function request(request: HttpRequest, body: Uint8Array | null = null): HttpResponse {
    const meta = Memory.fromString(request.toJson()).offset;
    const payload = body !== null ? Memory.fromBytes(body).offset : 0;
    const offset = kernel.http_request(meta, payload);
    const status = kernel.http_status_code();
    const response = Memory.find(offset);
    const bytes = response.toBytes();
    response.free();
    return new HttpResponse(status, bytes);
  }
}
