/**
 * Just enough JSON for a plugin's input: one member of a top-level object, as a string.
 *
 * AssemblyScript has no built-in JSON. This reader checks the whole text against RFC 8259
 * (nested values are validated and skipped, up to MAX_DEPTH levels), compares keys after decoding
 * their escapes and lets the last of duplicate keys win. Strings are UTF-16 here, so `\uD83D\uDE00`
 * pairs up by itself; a lone surrogate becomes U+FFFD when the output is encoded as UTF-8.
 */

/** How deeply arrays and objects may nest inside the top-level object. */
const MAX_DEPTH: i32 = 128;

export enum MemberKind {
  String,
  Missing,
  NotAString,
  /** The text is not one well-formed JSON object; `problem` says why. */
  Invalid,
}

export class Member {
  constructor(
    public kind: MemberKind,
    /** The decoded string, when `kind` is `MemberKind.String`. */
    public value: string = "",
    public problem: string = "",
  ) {}
}

/** The member `key` of the JSON object that is the whole of `text`. */
export function stringMember(text: string, key: string): Member {
  const reader = new Reader(text);
  let found = new Member(MemberKind.Missing);
  if (!reader.expect(0x7b /* { */)) return reader.invalid();
  if (!reader.eat(0x7d /* } */)) {
    do {
      const name = reader.string();
      if (name === null || !reader.expect(0x3a /* : */)) return reader.invalid();
      reader.space();
      let value: Member;
      if (reader.peek() == 0x22 /* " */) {
        const text = reader.string();
        if (text === null) return reader.invalid();
        value = new Member(MemberKind.String, text);
      } else {
        if (!reader.skipValue(1)) return reader.invalid();
        value = new Member(MemberKind.NotAString);
      }
      if (name == key) found = value;
    } while (reader.eat(0x2c /* , */));
    if (!reader.expect(0x7d /* } */)) return reader.invalid();
  }
  reader.space();
  if (reader.peek() >= 0) {
    reader.fail("unexpected text after the object");
    return reader.invalid();
  }
  return found;
}

/** `text` as a JSON string literal, quotes included. */
export function quote(text: string): string {
  const parts = new Array<string>();
  parts.push('"');
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c != 0x22 && c != 0x5c && c >= 0x20) continue;
    parts.push(text.substring(start, i));
    if (c == 0x22) parts.push('\\"');
    else if (c == 0x5c) parts.push("\\\\");
    else parts.push("\\u00" + (c < 0x10 ? "0" : "") + c.toString(16));
    start = i + 1;
  }
  parts.push(text.substring(start));
  parts.push('"');
  return parts.join("");
}

class Reader {
  pos: i32 = 0;
  problem: string = "";

  constructor(private readonly text: string) {}

  invalid(): Member {
    return new Member(MemberKind.Invalid, "", this.problem);
  }

  /** Records the first problem; returns false so callers can `return this.fail(…)`. */
  fail(what: string): bool {
    if (this.problem.length == 0) {
      this.problem = this.pos < this.text.length ? `${what} at character ${this.pos}` : `${what} at the end of the input`;
    }
    return false;
  }

  /** The next UTF-16 unit, or -1 at the end. */
  peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
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

  expect(c: i32): bool {
    return this.eat(c) || this.fail(`expected '${String.fromCharCode(c)}'`);
  }

  /** A string literal, decoded; null (with `problem` set) when it is malformed. */
  string(): string | null {
    if (!this.expect(0x22)) return null;
    const parts = new Array<string>();
    let start = this.pos;
    for (let c = this.peek(); c != 0x22; c = this.peek()) {
      if (c < 0x20) {
        this.fail(c < 0 ? "unterminated string" : "control character in a string");
        return null;
      }
      if (c != 0x5c /* \ */) {
        this.pos++;
        continue;
      }
      parts.push(this.text.substring(start, this.pos));
      this.pos++;
      const escaped = this.escape();
      if (escaped === null) return null;
      parts.push(escaped);
      start = this.pos;
    }
    parts.push(this.text.substring(start, this.pos));
    this.pos++;
    return parts.join("");
  }

  /** The text an escape stands for (after its backslash); null when it is malformed. */
  private escape(): string | null {
    const c = this.peek();
    this.pos++;
    switch (c) {
      case 0x22: return '"';
      case 0x5c: return "\\";
      case 0x2f: return "/";
      case 0x62: return "\b";
      case 0x66: return "\f";
      case 0x6e: return "\n";
      case 0x72: return "\r";
      case 0x74: return "\t";
      case 0x75: break; // u
      default:
        this.pos--;
        this.fail("invalid escape");
        return null;
    }
    if (this.pos + 4 > this.text.length) {
      this.fail("short \\u escape");
      return null;
    }
    let unit = 0;
    for (let i = 0; i < 4; i++, this.pos++) {
      const c = this.peek();
      const digit = c >= 0x30 && c <= 0x39 ? c - 0x30
        : c >= 0x61 && c <= 0x66 ? c - 0x61 + 10
        : c >= 0x41 && c <= 0x46 ? c - 0x41 + 10
        : -1;
      if (digit < 0) {
        this.fail("invalid \\u escape");
        return null;
      }
      unit = (unit << 4) | digit;
    }
    return String.fromCharCode(unit);
  }

  private digits(): bool {
    const start = this.pos;
    for (let c = this.peek(); c >= 0x30 && c <= 0x39; c = this.peek()) this.pos++;
    return this.pos > start;
  }

  /** -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
  private number(): bool {
    if (this.peek() == 0x2d /* - */) this.pos++;
    if (this.peek() == 0x30 /* 0 */) this.pos++;
    else if (!this.digits()) return this.fail("invalid number");
    if (this.peek() == 0x2e /* . */) {
      this.pos++;
      if (!this.digits()) return this.fail("invalid number");
    }
    if (this.peek() == 0x65 || this.peek() == 0x45 /* e E */) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d /* + - */) this.pos++;
      if (!this.digits()) return this.fail("invalid number");
    }
    return true;
  }

  private word(word: string): bool {
    if (this.text.substring(this.pos, this.pos + word.length) != word) return this.fail("expected a JSON value");
    this.pos += word.length;
    return true;
  }

  /** Validates and skips any value; `depth` counts the containers around it. */
  skipValue(depth: i32): bool {
    this.space();
    const c = this.peek();
    if (c == 0x22) return this.string() !== null;
    if (c == 0x74) return this.word("true");
    if (c == 0x66) return this.word("false");
    if (c == 0x6e) return this.word("null");
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (c != 0x7b && c != 0x5b /* { [ */) return this.fail("expected a JSON value");
    if (depth >= MAX_DEPTH) return this.fail("nested too deeply");
    const close = c == 0x7b ? 0x7d : 0x5d;
    this.pos++;
    if (this.eat(close)) return true;
    do {
      if (c == 0x7b && (this.string() === null || !this.expect(0x3a))) return false;
      if (!this.skipValue(depth + 1)) return false;
    } while (this.eat(0x2c));
    return this.expect(close);
  }
}
