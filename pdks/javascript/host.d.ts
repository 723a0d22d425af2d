// Types of the JavaScript PDK's global API (runtime/host.js), for TypeScript plugins.
// The build type-checks `.ts` entries against this file (`tsc --noEmit`, ES2023 library, no DOM
// and no Node types: the engine has neither).

/** The bytes a value is sent as: a string (UTF-8), a Uint8Array, an ArrayBuffer or another view. */
type HostBytes = string | Uint8Array | ArrayBuffer | ArrayBufferView;

interface HostHttpResponse {
  status: number;
  body: Uint8Array;
  text(): string;
  json(): any;
}

declare namespace Host {
  /** Thrown to fail the call with exactly `message`. */
  class Error extends globalThis.Error {
    constructor(message?: string);
  }
  /** The call's input bytes. */
  function input(): Uint8Array;
  /** The call's input as UTF-8 text. */
  function inputString(): string;
  /** The call's input parsed as JSON. */
  function inputJSON(): any;
  /** Set the call's output: a string (UTF-8), bytes, or any other value as JSON. */
  function output(value: unknown): void;
  /** Set the call's output to `value` as JSON. */
  function outputJSON(value: unknown): void;
  namespace config {
    /** The config value of `key`, or null when it is not set (or empty). */
    function get(key: string): string | null;
  }
  namespace vars {
    function get(key: string): Uint8Array | null;
    function getString(key: string): string | null;
    /** Store a string (UTF-8) or bytes; an empty value removes the var. */
    function set(key: string, value: HostBytes): void;
    function remove(key: string): void;
  }
  namespace log {
    function trace(message: unknown): void;
    function debug(message: unknown): void;
    function info(message: unknown): void;
    function warn(message: unknown): void;
    function error(message: unknown): void;
  }
  namespace http {
    /** An HTTP request through the host; non-2xx statuses are returned, not thrown. */
    function request(
      url: string,
      options?: { method?: string; headers?: Record<string, string>; body?: HostBytes },
    ): HostHttpResponse;
  }
  /** A host function import (literal arguments only); calling it returns the i64 result as a BigInt. */
  function hostFunction(
    module: string,
    name: string,
    params?: number,
    results?: 0 | 1,
  ): (...args: (number | bigint | HostBytes)[]) => bigint;
  namespace memory {
    function alloc(data: HostBytes): bigint;
    function read(offset: number | bigint): Uint8Array;
    function readString(offset: number | bigint): string;
    function free(offset: number | bigint): void;
  }
  /** Abort the instance with a wasm trap. */
  function trap(): never;
}

/** UTF-8 only. */
declare class TextEncoder {
  readonly encoding: string;
  encode(text?: string): Uint8Array;
}

/** UTF-8 only. */
declare class TextDecoder {
  constructor(label?: string);
  readonly encoding: string;
  decode(data?: HostBytes): string;
}
