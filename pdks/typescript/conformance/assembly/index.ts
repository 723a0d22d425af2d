// The AssemblyScript PDK's conformance plugin: every export of conformance/CONTRACT.md, written
// with the PDK's public API only.

import {
  Config,
  Http,
  HttpRequest,
  HttpResponse,
  Log,
  Memory,
  Var,
  input,
  inputLength,
  inputString,
  output,
  outputMemory,
  outputString,
  setError,
} from "extism-pdk";

// A host function the runner provides: takes a kernel block, returns a new one (bytes reversed).
@external("extism:host/user", "reverse_bytes")
declare function reverse_bytes(offset: u64): u64;

export function echo(): i32 {
  output(input());
  return 0;
}

export function greet(): i32 {
  outputString(`Hello, ${inputString()}!`);
  return 0;
}

export function reverse(): i32 {
  const data = input();
  data.reverse();
  output(data);
  return 0;
}

export function input_size(): i32 {
  outputString(inputLength().toString());
  return 0;
}

export function json_sum(): i32 {
  const json = new JsonReader(input());
  let a: i64 = 0;
  let b: i64 = 0;
  let seen = 0; // bit 1: a, bit 2: b
  let ok = json.expect(0x7b); // {
  if (ok && !json.consume(0x7d)) {
    do {
      const key = json.string();
      ok = key !== null && json.expect(0x3a); // :
      if (!ok) break;
      if (key == "a") {
        ok = json.integer();
        a = json.number;
        seen |= 1;
      } else if (key == "b") {
        ok = json.integer();
        b = json.number;
        seen |= 2;
      } else {
        ok = json.skipValue(0);
      }
    } while (ok && json.consume(0x2c)); // ,
    ok = ok && json.expect(0x7d); // }
  }
  ok = ok && json.end();
  if (!ok) return failWith(`json_sum: ${json.problem}`);
  if (seen != 3) return failWith("json_sum: the object needs integer members a and b");
  const sum = a + b;
  if (((a ^ sum) & (b ^ sum)) < 0) return failWith("json_sum: a + b overflows 64 bits");
  outputString(`{"sum":${sum}}`);
  return 0;
}

export function config(): i32 {
  const key = inputString();
  const value = Config.get(key);
  if (value === null) return failWith(`config key '${key}' is not set`);
  outputString(value);
  return 0;
}

export function var_counter(): i32 {
  const stored = Var.getString("counter");
  const count = stored !== null ? parseCount(stored) : 0;
  if (count < 0) return failWith("var_counter: var 'counter' is not a decimal number");
  const next = (count + 1).toString();
  Var.setString("counter", next);
  outputString(next);
  return 0;
}

export function var_set(): i32 {
  const data = input();
  const eq = data.indexOf(0x3d); // =
  if (eq < 0) return failWith("var_set: expected <key>=<value>");
  Var.set(String.UTF8.decode(data.slice(0, eq).buffer), data.subarray(eq + 1));
  return 0;
}

export function var_get(): i32 {
  const key = inputString();
  const value = Var.get(key);
  if (value === null) return failWith(`var '${key}' is not set`);
  output(value);
  return 0;
}

export function var_delete(): i32 {
  Var.remove(inputString());
  return 0;
}

export function fail(): i32 {
  return failWith(inputString());
}

export function trap(): i32 {
  return unreachable();
}

export function http_get(): i32 {
  const request = new HttpRequest("GET", inputString()).header("X-Conformance", "1");
  outputResponse(Http.request(request));
  return 0;
}

export function http_post(): i32 {
  const url = Config.get("url");
  if (url === null) return failWith("http_post: config key 'url' is not set");
  const request = new HttpRequest("POST", url)
    .header("X-Conformance", "1")
    .header("Content-Type", "text/plain");
  outputResponse(Http.request(request, input()));
  return 0;
}

export function host_reverse(): i32 {
  const argument = Memory.fromBytes(input());
  outputMemory(Memory.find(reverse_bytes(argument.offset)));
  return 0;
}

export function log(): i32 {
  const message = inputString();
  Log.debug(`debug: ${message}`);
  Log.info(`info: ${message}`);
  Log.warn(`warn: ${message}`);
  Log.error(`error: ${message}`);
  return 0;
}

export function spin(): i32 {
  while (true) {}
}

export function grow(): i32 {
  const pages = parseCount(inputString());
  if (pages < 0 || pages > i32.MAX_VALUE) return failWith("grow: expected a page count");
  if (memory.grow(<i32>pages) < 0) return failWith(`grow: cannot grow memory by ${pages} pages`);
  outputString("ok");
  return 0;
}

export function large_output(): i32 {
  const count = parseCount(inputString());
  if (count < 0 || count > i32.MAX_VALUE) return failWith("large_output: expected a byte count");
  const bytes = new Uint8Array(<i32>count);
  for (let i = 0; i < bytes.length; i++) bytes[i] = <u8>(i % 251);
  output(bytes);
  return 0;
}

// ---------------------------------------------------------------------------------------------

function failWith(message: string): i32 {
  setError(message);
  return 1;
}

/** `<status>\n<body>`, assembled in one kernel block. */
function outputResponse(response: HttpResponse): void {
  const head = Uint8Array.wrap(String.UTF8.encode(`${response.status}\n`));
  const block = Memory.allocate(<u64>(head.length + response.body.length));
  block.store(head);
  block.store(response.body, <u64>head.length);
  outputMemory(block);
}

/** `text` (surrounding whitespace allowed) as a non-negative decimal, or -1 if it is not one. */
function parseCount(text: string): i64 {
  const digits = text.trim();
  if (digits.length == 0 || digits.length > 18) return -1;
  let value: i64 = 0;
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    value = value * 10 + <i64>(c - 0x30);
  }
  return value;
}

/**
 * Just enough of a JSON reader for `json_sum`: strings, 64-bit integers, and skipping any
 * other value. Methods return false on malformed input and leave the reason in `problem`.
 */
class JsonReader {
  pos: i32 = 0;
  number: i64 = 0;
  problem: string = "";

  constructor(private readonly src: Uint8Array) {}

  private fail(what: string): bool {
    this.problem = this.pos < this.src.length ? `${what} at byte ${this.pos}` : `${what} at end of input`;
    return false;
  }

  private peek(): i32 {
    return this.pos < this.src.length ? <i32>this.src[this.pos] : -1;
  }

  private skipSpace(): void {
    for (let c = this.peek(); c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d; c = this.peek()) this.pos++;
  }

  /** Skips whitespace, then consumes `c` if it is next. */
  consume(c: i32): bool {
    this.skipSpace();
    if (this.peek() != c) return false;
    this.pos++;
    return true;
  }

  expect(c: i32): bool {
    return this.consume(c) || this.fail(`expected '${String.fromCharCode(c)}'`);
  }

  /** Only whitespace is left. */
  end(): bool {
    this.skipSpace();
    return this.pos == this.src.length || this.fail("unexpected data after the object");
  }

  /** A string literal, decoded; null on error. */
  string(): string | null {
    if (!this.expect(0x22)) return null;
    const parts = new Array<string>();
    let run = this.pos;
    while (true) {
      const c = this.peek();
      if (c < 0) {
        this.fail("unterminated string");
        return null;
      }
      if (c == 0x22 || c == 0x5c) {
        parts.push(String.UTF8.decodeUnsafe(this.src.dataStart + <usize>run, <usize>(this.pos - run)));
        this.pos++;
        if (c == 0x22) return parts.join("");
        const unit = this.escape();
        if (unit < 0) return null;
        parts.push(String.fromCharCode(unit));
        run = this.pos;
      } else if (c < 0x20) {
        this.fail("control character in string");
        return null;
      } else {
        this.pos++;
      }
    }
  }

  /** The UTF-16 unit of the escape after a backslash, or -1. */
  private escape(): i32 {
    const c = this.peek();
    this.pos++;
    switch (c) {
      case 0x22: return 0x22;
      case 0x5c: return 0x5c;
      case 0x2f: return 0x2f;
      case 0x62: return 0x08;
      case 0x66: return 0x0c;
      case 0x6e: return 0x0a;
      case 0x72: return 0x0d;
      case 0x74: return 0x09;
      case 0x75: {
        let unit = 0;
        for (let i = 0; i < 4; i++) {
          const h = this.peek();
          const v = h >= 0x30 && h <= 0x39 ? h - 0x30 : (h | 0x20) >= 0x61 && (h | 0x20) <= 0x66 ? (h | 0x20) - 0x57 : -1;
          if (v < 0) {
            this.fail("bad \\u escape");
            return -1;
          }
          unit = (unit << 4) | v;
          this.pos++;
        }
        return unit;
      }
    }
    this.pos--;
    this.fail("bad escape");
    return -1;
  }

  /** A JSON integer into `number` (fractions, exponents and 64-bit overflow are errors). */
  integer(): bool {
    this.skipSpace();
    const negative = this.peek() == 0x2d;
    if (negative) this.pos++;
    const start = this.pos;
    let value: i64 = 0; // built negatively so that i64.MIN_VALUE fits
    for (let c = this.peek(); c >= 0x30 && c <= 0x39; c = this.peek()) {
      const digit = <i64>(c - 0x30);
      if (value < (i64.MIN_VALUE + digit) / 10) return this.fail("integer out of 64-bit range");
      value = value * 10 - digit;
      this.pos++;
    }
    if (this.pos == start) return this.fail("expected an integer");
    if (this.src[start] == 0x30 && this.pos - start > 1) return this.fail("leading zero");
    const next = this.peek();
    if (next == 0x2e || next == 0x65 || next == 0x45) return this.fail("expected an integer, not a fraction");
    if (!negative) {
      if (value == i64.MIN_VALUE) return this.fail("integer out of 64-bit range");
      value = -value;
    }
    this.number = value;
    return true;
  }

  /** Skips any JSON value. */
  skipValue(depth: i32): bool {
    if (depth > 64) return this.fail("nested too deeply");
    this.skipSpace();
    const c = this.peek();
    if (c == 0x22) return this.string() !== null;
    if (c == 0x7b || c == 0x5b) {
      const close = c + 2; // } or ]
      this.pos++;
      if (this.consume(close)) return true;
      do {
        if (c == 0x7b && (this.string() === null || !this.expect(0x3a))) return false;
        if (!this.skipValue(depth + 1)) return false;
      } while (this.consume(0x2c));
      return this.expect(close);
    }
    if (c == 0x74) return this.literal("true");
    if (c == 0x66) return this.literal("false");
    if (c == 0x6e) return this.literal("null");
    return this.skipNumber();
  }

  private literal(word: string): bool {
    for (let i = 0; i < word.length; i++) {
      if (this.peek() != word.charCodeAt(i)) return this.fail(`expected '${word}'`);
      this.pos++;
    }
    return true;
  }

  private skipNumber(): bool {
    if (this.peek() == 0x2d) this.pos++;
    if (!this.digits()) return this.fail("expected a value");
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!this.digits()) return this.fail("expected digits");
    }
    if ((this.peek() | 0x20) == 0x65) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      if (!this.digits()) return this.fail("expected digits");
    }
    return true;
  }

  private digits(): bool {
    const start = this.pos;
    for (let c = this.peek(); c >= 0x30 && c <= 0x39; c = this.peek()) this.pos++;
    return this.pos > start;
  }
}
