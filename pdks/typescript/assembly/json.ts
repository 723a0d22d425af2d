/**
 * JSON for inputs and outputs (AssemblyScript has no built-in `JSON`).
 *
 * ```ts
 * const parsed = Json.parse(input());              // the input's bytes: UTF-8 is checked
 * const doc = parsed.value;
 * if (doc === null) { setError(`bad input: ${parsed.error}`); return 1; }
 * const name = doc.get("name");                    // JsonValue | null
 * if (name === null || !name.isString) { setError('expected {"name": "…"}'); return 1; }
 * outputString(JsonValue.object().set("greeting", JsonValue.string(`Hi, ${name.asString()}!`)).toString());
 * ```
 *
 * `Json.parse` checks the whole text against RFC 8259: strings must be well-formed UTF-8, numbers
 * must have JSON's syntax, nothing but whitespace may follow the value, and arrays and objects may
 * nest `JSON_MAX_DEPTH` levels. Objects keep their members in order, duplicates included; `get`
 * finds the last one, as most parsers do. Numbers keep their text, so no precision is lost until
 * you read one with `asI64` or `asF64`. Strings are UTF-16 here: a lone surrogate escape such as
 * `"\ud800"` stays in the string, and becomes U+FFFD when the text is output (as UTF-8).
 */

import { utf8, utf8Sequence } from "./memory";

/** How deeply arrays and objects may nest (the parser recurses once per level). */
export const JSON_MAX_DEPTH: i32 = 128;

/** The kind of a `JsonValue`. */
export enum JsonType {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/** A JSON value: null, a boolean, a number, a string, an array or an object. */
export class JsonValue {
  /** An array's elements, or an object's member values (in step with `keys`). */
  readonly items: Array<JsonValue> = [];
  /** An object's keys, in order (duplicates included). */
  readonly keys: Array<string> = [];

  /** Prefer the static constructors (`JsonValue.string("x")`, …). */
  constructor(
    readonly type: JsonType,
    /** A string's text, or a number as written. */
    private text: string = "",
    private flag: bool = false,
  ) {}

  /** `null`. */
  static null(): JsonValue {
    return new JsonValue(JsonType.Null);
  }
  /** `true` or `false`. */
  static bool(value: bool): JsonValue {
    return new JsonValue(JsonType.Bool, "", value);
  }
  /** A number; NaN and infinities (not JSON) become `null`. */
  static number(value: f64): JsonValue {
    if (!isFinite(value)) return JsonValue.null();
    // `toString` drops the sign of -0.
    return new JsonValue(JsonType.Number, value == 0 && 1 / value < 0 ? "-0.0" : value.toString());
  }
  /** An integer, written exactly. */
  static integer(value: i64): JsonValue {
    return new JsonValue(JsonType.Number, value.toString());
  }
  /** A string. */
  static string(value: string): JsonValue {
    return new JsonValue(JsonType.String, value);
  }
  /** An empty array; add elements with `push`. */
  static array(): JsonValue {
    return new JsonValue(JsonType.Array);
  }
  /** An empty object; add members with `set`. */
  static object(): JsonValue {
    return new JsonValue(JsonType.Object);
  }

  get isNull(): bool {
    return this.type == JsonType.Null;
  }
  get isBool(): bool {
    return this.type == JsonType.Bool;
  }
  get isNumber(): bool {
    return this.type == JsonType.Number;
  }
  get isString(): bool {
    return this.type == JsonType.String;
  }
  get isArray(): bool {
    return this.type == JsonType.Array;
  }
  get isObject(): bool {
    return this.type == JsonType.Object;
  }
  /** A number written as an integer (no fraction or exponent) that fits in an `i64`. */
  get isInteger(): bool {
    return this.isNumber && parseI64(this.text, true) != 0;
  }

  /** The boolean; throws when this is not one. */
  asBool(): bool {
    this.expect(JsonType.Bool);
    return this.flag;
  }
  /** The string; throws when this is not one. */
  asString(): string {
    this.expect(JsonType.String);
    return this.text;
  }
  /** The nearest `f64` (correctly rounded); throws when this is not a number. */
  asF64(): f64 {
    this.expect(JsonType.Number);
    return toF64(this.text);
  }
  /** The integer; throws unless `isInteger`. */
  asI64(): i64 {
    if (!this.isInteger) throw new Error(`JSON value ${this.toString()} is not a 64-bit integer`);
    return parseI64(this.text, false);
  }

  /** An object's member `key` (the last one, if it repeats); null when this is not an object or has no such member. */
  get(key: string): JsonValue | null {
    if (this.isObject) {
      for (let i = this.keys.length - 1; i >= 0; i--) if (this.keys[i] == key) return this.items[i];
    }
    return null;
  }

  /** Sets member `key` of an object (replacing it if present); returns the object, for chaining. */
  set(key: string, value: JsonValue): JsonValue {
    this.expect(JsonType.Object);
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] == key) {
        this.items[i] = value;
        return this;
      }
    }
    this.keys.push(key);
    this.items.push(value);
    return this;
  }

  /** Appends an element to an array; returns the array, for chaining. */
  push(value: JsonValue): JsonValue {
    this.expect(JsonType.Array);
    this.items.push(value);
    return this;
  }

  /** Compact JSON text. */
  toString(): string {
    const parts = new Array<string>();
    this.write(parts);
    return parts.join("");
  }

  private write(parts: Array<string>): void {
    switch (this.type) {
      case JsonType.Null: parts.push("null"); break;
      case JsonType.Bool: parts.push(this.flag ? "true" : "false"); break;
      case JsonType.Number: parts.push(this.text); break;
      case JsonType.String: parts.push(Json.quote(this.text)); break;
      default: {
        const isObject = this.isObject;
        parts.push(isObject ? "{" : "[");
        for (let i = 0; i < this.items.length; i++) {
          if (i > 0) parts.push(",");
          if (isObject) parts.push(Json.quote(this.keys[i]) + ":");
          this.items[i].write(parts);
        }
        parts.push(isObject ? "}" : "]");
      }
    }
  }

  private expect(type: JsonType): void {
    if (this.type != type) throw new Error(`JSON value ${this.toString()} has the wrong type`);
  }
}

/** What `Json.parse` found: the value, or null and the reason. */
export class JsonResult {
  constructor(
    /** The parsed value, or null when the text is not JSON. */
    readonly value: JsonValue | null,
    /** Why the text is not JSON, e.g. "expected ':' at byte 7"; empty on success. */
    readonly error: string,
  ) {}
}

export namespace Json {
  /** Parses `data`, UTF-8 JSON text such as `input()`. */
  export function parse(data: Uint8Array): JsonResult {
    const parser = new Parser(data.dataStart, data.dataStart + <usize>data.length);
    let value = parser.value(0);
    if (value !== null) {
      parser.space();
      if (parser.pos < parser.end) value = parser.fail("unexpected text after the value");
    }
    return new JsonResult(value, value !== null ? "" : `${parser.problem} at byte ${parser.where - data.dataStart}`);
  }

  /** Parses `text` (lone surrogates in it count as U+FFFD). */
  export function parseString(text: string): JsonResult {
    return parse(Uint8Array.wrap(utf8(text)));
  }

  /** `text` as a JSON string literal, quotes included: `Json.quote('a"b')` is `"a\"b"`. */
  export function quote(text: string): string {
    const parts = new Array<string>();
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
      parts.push(text.substring(start, i));
      if (c == 0x22) parts.push('\\"');
      else if (c == 0x5c) parts.push("\\\\");
      else if (c == 0x0a) parts.push("\\n");
      else if (c == 0x0d) parts.push("\\r");
      else if (c == 0x09) parts.push("\\t");
      else parts.push("\\u" + c.toString(16).padStart(4, "0"));
      start = i + 1;
    }
    parts.push(text.substring(start));
    return '"' + parts.join("") + '"';
  }
}

/**
 * `text`, a JSON number, as an i64. With `check`, returns 1 when it is an integer that fits and
 * 0 otherwise (so 0 itself is told apart from failure).
 */
function parseI64(text: string, check: bool): i64 {
  const negative = text.charCodeAt(0) == 0x2d;
  let value: i64 = 0; // built negatively, so that i64.MIN_VALUE fits
  for (let i = <i32>negative; i < text.length; i++) {
    const digit = <i64>(text.charCodeAt(i) - 0x30);
    if (digit < 0 || digit > 9 || value < (i64.MIN_VALUE + digit) / 10) return 0; // '.', 'e', overflow
    value = value * 10 - digit;
  }
  if (!negative && value == i64.MIN_VALUE) return 0;
  return check ? 1 : negative ? value : -value;
}

// ---- decimal to binary ---------------------------------------------------------------------------
// AssemblyScript's `parseFloat` is not always correctly rounded ("1e23" is one unit off, and long
// mantissas can be far off), so `toF64` refines an estimate against the exact decimal value with
// big integers (little-endian arrays of 32-bit limbs): the result is the double nearest the text,
// ties to even.

/** Significant digits kept; further ones only count as "not zero" (768 decide any double). */
const MAX_DIGITS = 800;

function toF64(text: string): f64 {
  const negative = text.charCodeAt(0) == 0x2d;
  const digits = new Array<u32>();
  let exp = 0; // the value is digits × 10^exp
  let point = false;
  let sticky = false;
  let i = <i32>negative;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c == 0x2e) {
      point = true;
      continue;
    }
    if (c < 0x30 || c > 0x39) break; // the exponent's 'e'
    if (point) exp--;
    if (digits.length == 0 && c == 0x30) continue; // a leading zero
    if (digits.length < MAX_DIGITS) {
      digits.push(<u32>(c - 0x30));
    } else {
      exp++;
      sticky = sticky || c != 0x30;
    }
  }
  if (sticky) {
    digits.push(1);
    exp--;
  }
  if (i < text.length) { // e[+-]digits, clamped (beyond ±10^6 only the sign matters)
    const sign = text.charCodeAt(i + 1) == 0x2d ? -1 : 1;
    let e = 0;
    for (let j = i + 1; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c >= 0x30 && c <= 0x39) e = min(e * 10 + (c - 0x30), 1000000);
    }
    exp += sign * e;
  }
  const n = digits.length;
  const zero = negative ? -0.0 : 0.0;
  if (n == 0 || n + exp < -324) return zero; // below 10^-325: rounds to 0
  if (n + exp > 310) return negative ? -Infinity : Infinity;
  // An estimate within a few units in the last place, from the first 17 digits.
  let w = 0.0;
  const used = min(n, 17);
  for (let j = 0; j < used; j++) w = w * 10 + <f64>digits[j];
  const e = exp + n - used;
  let a = e < -300 ? w * Math.pow(10, e + 300) * 1e-300 : w * Math.pow(10, e);
  if (!isFinite(a)) a = f64.MAX_VALUE;
  // Step to the double whose rounding interval holds the exact value.
  const exact = new Array<u32>();
  for (let j = 0; j < n; j++) bigMulAdd(exact, 10, digits[j]);
  for (let steps = 0; steps < 64; steps++) {
    if (compareHalfway(exact, exp, a) > 0) {
      a = nextUp(a);
      if (!isFinite(a)) break;
    } else if (a > 0 && compareHalfway(exact, exp, nextDown(a)) <= 0) {
      a = nextDown(a);
    } else {
      if (compareHalfway(exact, exp, a) == 0 && (reinterpret<u64>(a) & 1) != 0) a = nextUp(a); // a tie: to even
      break;
    }
  }
  return negative ? -a : a;
}

function nextUp(a: f64): f64 {
  return reinterpret<f64>(reinterpret<u64>(a) + 1);
}

function nextDown(a: f64): f64 {
  return reinterpret<f64>(reinterpret<u64>(a) - 1);
}

/** The sign of `digits × 10^exp` minus the point halfway between `a` (finite, >= 0) and the next double up. */
function compareHalfway(digits: Array<u32>, exp: i32, a: f64): i32 {
  const bits = reinterpret<u64>(a);
  const biased = <i32>(bits >> 52);
  const mantissa = biased == 0 ? bits : (bits & 0xfffffffffffff) | 0x10000000000000;
  const power2 = (biased == 0 ? -1074 : biased - 1075) - 1; // halfway = (2 × mantissa + 1) × 2^power2
  const left = digits.slice(0);
  const odd = mantissa * 2 + 1;
  const right = new Array<u32>();
  right.push(<u32>odd);
  if (odd >> 32 != 0) right.push(<u32>(odd >> 32));
  bigMulPow5(exp >= 0 ? left : right, exp >= 0 ? exp : -exp);
  // 10^exp = 5^exp × 2^exp: shift the side with the smaller power of two.
  const shift = exp - power2;
  bigShiftLeft(shift > 0 ? left : right, shift > 0 ? shift : -shift);
  if (left.length != right.length) return left.length > right.length ? 1 : -1;
  for (let j = left.length - 1; j >= 0; j--) {
    if (left[j] != right[j]) return left[j] > right[j] ? 1 : -1;
  }
  return 0;
}

/** big = big × factor + add (no leading zero limbs are kept). */
function bigMulAdd(big: Array<u32>, factor: u32, add: u32): void {
  let carry = <u64>add;
  for (let j = 0; j < big.length; j++) {
    carry += <u64>big[j] * factor;
    big[j] = <u32>carry;
    carry >>= 32;
  }
  if (carry != 0) big.push(<u32>carry);
}

function bigMulPow5(big: Array<u32>, n: i32): void {
  for (; n >= 13; n -= 13) bigMulAdd(big, 1220703125, 0); // 5^13
  let factor: u32 = 1;
  for (; n > 0; n--) factor *= 5;
  bigMulAdd(big, factor, 0);
}

function bigShiftLeft(big: Array<u32>, n: i32): void {
  for (; n >= 16; n -= 16) bigMulAdd(big, 0x10000, 0);
  bigMulAdd(big, <u32>1 << <u32>n, 0);
}

class Parser {
  problem: string = "";
  where: usize = 0;

  constructor(
    public pos: usize,
    public end: usize,
  ) {}

  fail(what: string): JsonValue | null {
    this.problem = what;
    this.where = this.pos;
    return null;
  }

  /** The next byte, or -1 at the end. */
  peek(): i32 {
    return this.pos < this.end ? <i32>load<u8>(this.pos) : -1;
  }

  space(): void {
    for (let c = this.peek(); c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d; c = this.peek()) this.pos++;
  }

  /** Skips whitespace, then consumes `c` if it comes next. */
  eat(c: i32): bool {
    this.space();
    if (this.peek() != c) return false;
    this.pos++;
    return true;
  }

  /** Any value, after optional whitespace; `depth` counts the containers around it. */
  value(depth: i32): JsonValue | null {
    this.space();
    const c = this.peek();
    if (c == 0x22) return this.string();
    if (c == 0x74) return this.word("true", JsonValue.bool(true));
    if (c == 0x66) return this.word("false", JsonValue.bool(false));
    if (c == 0x6e) return this.word("null", JsonValue.null());
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (c != 0x5b && c != 0x7b) return this.fail("expected a JSON value");
    if (depth >= JSON_MAX_DEPTH) return this.fail("nested too deeply");
    this.pos++;
    const isObject = c == 0x7b;
    const container = isObject ? JsonValue.object() : JsonValue.array();
    const close = c + 2; // } or ]
    if (this.eat(close)) return container;
    do {
      if (isObject) {
        this.space();
        if (this.peek() != 0x22) return this.fail("expected a string key");
        const key = this.string();
        if (key === null) return null;
        if (!this.eat(0x3a)) return this.fail("expected ':'");
        container.keys.push(key.asString());
      }
      const item = this.value(depth + 1);
      if (item === null) return null;
      container.items.push(item);
    } while (this.eat(0x2c));
    return this.eat(close) ? container : this.fail(isObject ? "expected ',' or '}'" : "expected ',' or ']'");
  }

  private word(word: string, value: JsonValue): JsonValue | null {
    for (let i = 0; i < word.length; i++, this.pos++) {
      if (this.peek() != word.charCodeAt(i)) return this.fail("expected a JSON value");
    }
    return value;
  }

  private digits(): bool {
    const start = this.pos;
    for (let c = this.peek(); c >= 0x30 && c <= 0x39; c = this.peek()) this.pos++;
    return this.pos > start;
  }

  /** -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
  private number(): JsonValue | null {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    let ok = true;
    if (this.peek() == 0x30) this.pos++;
    else ok = this.digits();
    if (ok && this.peek() == 0x2e) {
      this.pos++;
      ok = this.digits();
    }
    if (ok && (this.peek() == 0x65 || this.peek() == 0x45)) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      ok = this.digits();
    }
    if (!ok) return this.fail("invalid number");
    return new JsonValue(JsonType.Number, String.UTF8.decodeUnsafe(start, this.pos - start));
  }

  /** A string literal at the cursor (its opening quote), decoded. */
  private string(): JsonValue | null {
    const parts = new Array<string>();
    let run = ++this.pos;
    while (true) {
      const c = this.peek();
      if (c >= 0x80) {
        const n = utf8Sequence(this.pos, this.end);
        if (n < 0) return this.fail("invalid UTF-8");
        this.pos += n;
        continue;
      }
      if (c >= 0x20 && c != 0x22 && c != 0x5c) {
        this.pos++;
        continue;
      }
      if (c < 0x20) return this.fail(c < 0 ? "unterminated string" : "control character in a string");
      parts.push(String.UTF8.decodeUnsafe(run, this.pos - run));
      this.pos++;
      if (c == 0x22) return JsonValue.string(parts.join(""));
      const escaped = this.escape();
      if (escaped < 0) return this.fail(escaped == -1 ? "invalid escape" : "invalid \\u escape");
      parts.push(String.fromCharCode(escaped));
      run = this.pos;
    }
  }

  /** The UTF-16 unit of the escape after a backslash; -1 for a bad escape, -2 for bad hex digits. */
  private escape(): i32 {
    const c = this.peek();
    this.pos++;
    switch (c) {
      case 0x22: case 0x5c: case 0x2f: return c; // " \ /
      case 0x62: return 0x08; // b
      case 0x66: return 0x0c; // f
      case 0x6e: return 0x0a; // n
      case 0x72: return 0x0d; // r
      case 0x74: return 0x09; // t
      case 0x75: break; // u
      default:
        this.pos--;
        return -1;
    }
    let unit = 0;
    for (let i = 0; i < 4; i++, this.pos++) {
      const h = this.peek();
      const digit = h >= 0x30 && h <= 0x39 ? h - 0x30
        : h >= 0x61 && h <= 0x66 ? h - 0x57 // a-f
        : h >= 0x41 && h <= 0x46 ? h - 0x37 // A-F
        : -1;
      if (digit < 0) return -2;
      unit = (unit << 4) | digit;
    }
    return unit;
  }
}
