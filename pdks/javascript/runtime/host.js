// The JavaScript PDK's API: the global `Host`, built on the runtime's native functions (glue.c).
// Evaluated once per instance before the plugin's script; glue.c calls the function below with
// the natives and keeps `run`/`outcome` to call the exports.
(function (native) {
  "use strict";

  /** Thrown to fail the call with exactly `message` (any other Error gives "<name>: <message>"). */
  class HostError extends Error {
    constructor(message) {
      super(message);
      this.name = "Host.Error";
    }
  }

  /** A string (UTF-8), Uint8Array, ArrayBuffer or other ArrayBuffer view as a Uint8Array. */
  function bytes(value) {
    if (typeof value === "string") return native.encode(value);
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    throw new TypeError(`expected a string, Uint8Array or ArrayBuffer, got ${typeof value}`);
  }

  /** What the export's return value (or Host.output's argument) puts in the call's output. */
  function outputBytes(value) {
    if (typeof value === "string" || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return bytes(value);
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError(`cannot output a ${typeof value}`);
    return native.encode(json);
  }

  const key = (k) => native.encode(String(k));
  const decode = (b) => (b === null ? null : native.decode(b));
  const log = (level) => (message) => native.log(level, native.encode(String(message)));

  const Host = {
    /** The call's input bytes. */
    input: () => native.input(),
    /** The call's input as UTF-8 text. */
    inputString: () => native.decode(native.input()),
    /** The call's input parsed as JSON (a SyntaxError when it is not JSON). */
    inputJSON: () => JSON.parse(native.decode(native.input())),
    /** Set the call's output: string (UTF-8), bytes, or any other value as JSON. */
    output: (value) => native.output(outputBytes(value)),
    /** Set the call's output to `value` as JSON. */
    outputJSON: (value) => native.output(native.encode(JSON.stringify(value))),
    Error: HostError,
    config: {
      /** The config value of `key`, or null when it is not set (or empty). */
      get: (k) => decode(native.configGet(key(k))),
    },
    vars: {
      /** The var's bytes, or null when it is not set. */
      get: (k) => native.varGet(key(k)),
      /** The var as UTF-8 text, or null when it is not set. */
      getString: (k) => decode(native.varGet(key(k))),
      /** Store a string (UTF-8) or bytes; an empty value removes the var. */
      set: (k, value) => native.varSet(key(k), bytes(value)),
      /** Remove the var. */
      remove: (k) => native.varSet(key(k), null),
    },
    log: { trace: log(0), debug: log(1), info: log(2), warn: log(3), error: log(4) },
    http: {
      /**
       * An HTTP request through the host (the URL's host must be allowed). Returns
       * `{status, body: Uint8Array, text(), json()}`; non-2xx statuses are returned, not thrown.
       */
      request(url, { method = "GET", headers = {}, body } = {}) {
        const request = JSON.stringify({ url: String(url), method, headers });
        const [status, data] = native.http(native.encode(request), body === undefined ? null : bytes(body));
        return { status, body: data, text: () => native.decode(data), json: () => JSON.parse(native.decode(data)) };
      },
    },
    /**
     * A host function import. The build reads these calls (literal arguments only) and links the
     * wasm import `module::name` with `params` i64 parameters and `results` (0 or 1) i64 results.
     * Arguments: numbers/BigInts pass as is; strings and bytes are copied into a kernel block whose
     * offset is passed (freed after the call unless returned). The result is a BigInt.
     */
    hostFunction(module, name, params = 1, results = 1) {
      const [index, declared, returns] = native.hostIndex(String(module), String(name));
      if (index < 0 || declared !== params || returns !== results)
        throw new Error(`host function ${module}::${name} was not linked: Host.hostFunction needs literal arguments`);
      return function (...args) {
        const blocks = [];
        const values = args.map((a) => {
          if (typeof a === "number" || typeof a === "bigint") return a;
          const block = native.alloc(bytes(a));
          blocks.push(block);
          return block;
        });
        try {
          const result = native.hostCall(index, ...values);
          for (const b of blocks) if (b !== result) native.free(b);
          return result;
        } catch (e) {
          for (const b of blocks) native.free(b);
          throw e;
        }
      };
    },
    memory: {
      /** Copy a string or bytes into a new kernel block; its offset (0 for empty). */
      alloc: (data) => native.alloc(bytes(data)),
      /** A kernel block's bytes (offset 0: empty). */
      read: (offset) => native.read(offset),
      /** A kernel block's bytes as UTF-8 text. */
      readString: (offset) => native.decode(native.read(offset)),
      /** Free a kernel block (0 is ignored). */
      free: (offset) => native.free(offset),
    },
    /** Abort the instance with a wasm trap (the host must discard the instance). */
    trap: () => native.trap(),
  };
  /** UTF-8 TextEncoder/TextDecoder (the engine has none): `encode(string)`, `decode(bytes)`. */
  class TextEncoder {
    get encoding() {
      return "utf-8";
    }
    encode(text = "") {
      return native.encode(String(text));
    }
  }
  class TextDecoder {
    constructor(label = "utf-8") {
      if (!/^utf-?8$/i.test(label)) throw new RangeError(`TextDecoder: only utf-8 is supported, not ${label}`);
    }
    get encoding() {
      return "utf-8";
    }
    decode(data = new Uint8Array(0)) {
      return native.decode(bytes(data));
    }
  }
  for (const [name, value] of Object.entries({ TextEncoder, TextDecoder }))
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });

  Object.freeze(Host.config);
  Object.freeze(Host.vars);
  Object.freeze(Host.log);
  Object.freeze(Host.http);
  Object.freeze(Host.memory);
  Object.defineProperty(globalThis, "Host", { value: Object.freeze(Host) });

  /** The error text of a thrown value. */
  function describe(e) {
    try {
      if (e instanceof HostError) return String(e.message);
      if (e instanceof Error) return `${e.name}: ${e.message}`;
      return String(e);
    } catch {
      return "Error: an exception that cannot be converted to text";
    }
  }

  function deliver(result) {
    if (result !== undefined) Host.output(result);
  }

  const pending = Symbol("pending");
  let settled = false;
  let state;

  return {
    pending,
    /** Call an export: undefined on success, the error text, or `pending` for a promise. */
    run(fn) {
      try {
        const result = fn();
        if (!(result instanceof Promise)) return deliver(result);
        settled = false;
        result.then(deliver).then(
          () => ((settled = true), (state = undefined)),
          (e) => ((settled = true), (state = describe(e))),
        );
        return pending;
      } catch (e) {
        return describe(e);
      }
    },
    /** The outcome of the async export `run` returned `pending` for, once its jobs ran. */
    outcome: () => (settled ? state : "Error: the export's promise never settled (no event loop here)"),
  };
});
