import * as kernel from "./kernel";

/**
 * A block of kernel memory: where the plugin and the host exchange bytes.
 *
 * The kernel's memory is not the plugin's linear memory, so data is copied in and out (eight
 * bytes per host call, the tail byte by byte). Blocks are released by the kernel when the call
 * ends; `free` gives one back earlier.
 *
 * ```ts
 * const mem = Memory.fromString("hello");   // kernel block holding the UTF-8 bytes
 * const back = Memory.find(mem.offset);     // the same block, found by its offset
 * back.toString();                          // "hello"
 * ```
 */
export class Memory {
  /** Kernel offset of the block (0 for an empty block). */
  readonly offset: u64;
  /** Length of the block in bytes. */
  readonly length: u64;

  /** A view of an existing block; `Memory.find` looks the length up for you. */
  constructor(offset: u64, length: u64) {
    this.offset = offset;
    this.length = length;
  }

  /** Allocates a block of `length` bytes (contents unspecified); aborts when the kernel is full. */
  static allocate(length: u64): Memory {
    if (length == 0) return new Memory(0, 0);
    const offset = kernel.alloc(length);
    if (offset == 0) throw new Error(`out of kernel memory (allocating ${length} bytes)`);
    return new Memory(offset, length);
  }

  /** Allocates a block holding a copy of `data`. */
  static fromBytes(data: Uint8Array): Memory {
    const mem = Memory.allocate(<u64>data.length);
    copyToKernel(mem.offset, data.dataStart, <usize>data.length);
    return mem;
  }

  /** Allocates a block holding `text` encoded as UTF-8. */
  static fromString(text: string): Memory {
    const bytes = utf8(text);
    const mem = Memory.allocate(<u64>bytes.byteLength);
    copyToKernel(mem.offset, changetype<usize>(bytes), <usize>bytes.byteLength);
    return mem;
  }

  /** The block at `offset` (e.g. one a host function returned); the kernel knows its length. */
  static find(offset: u64): Memory {
    return new Memory(offset, offset == 0 ? 0 : kernel.length(offset));
  }

  /** Fills `target` with the block's bytes starting at byte `at`. */
  load(target: Uint8Array, at: u64 = 0): void {
    this.check(at, target.length);
    copyFromKernel(target.dataStart, this.offset + at, <usize>target.length);
  }

  /** Writes `data` into the block starting at byte `at`. */
  store(data: Uint8Array, at: u64 = 0): void {
    this.check(at, data.length);
    copyToKernel(this.offset + at, data.dataStart, <usize>data.length);
  }

  /** A copy of the whole block. */
  toBytes(): Uint8Array {
    const bytes = new Uint8Array(<i32>this.length);
    copyFromKernel(bytes.dataStart, this.offset, <usize>this.length);
    return bytes;
  }

  /** The block decoded as UTF-8. */
  toString(): string {
    return decode(this.toBytes());
  }

  /**
   * Gives the block back to the kernel now instead of at the end of the call. Never free a block
   * after passing it to the PDK or to `config_get`, `var_get`, `var_set`, `log_*` or
   * `http_request`: newer kernels free those themselves.
   */
  free(): void {
    if (this.offset != 0) kernel.free(this.offset);
  }

  private check(at: u64, count: i32): void {
    if (at + <u64>count > this.length) {
      throw new RangeError(`memory block of ${this.length} bytes: ${count} bytes at ${at} are out of range`);
    }
  }
}

/** `text` as UTF-8; unpaired surrogates become U+FFFD so the host always gets valid UTF-8. */
export function utf8(text: string): ArrayBuffer {
  return String.UTF8.encode(text, false, String.UTF8.ErrorMode.REPLACE);
}

/**
 * The length of the well-formed UTF-8 sequence at `at` (1 to 4 bytes before `end`), or minus the
 * length of the ill-formed bytes there (their "maximal subpart": 1 to 3 bytes). Well-formed means
 * no overlong forms, no surrogates, nothing above U+10FFFF.
 */
export function utf8Sequence(at: usize, end: usize): i32 {
  const lead = <u32>load<u8>(at);
  if (lead < 0x80) return 1;
  const n = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (n == 0) return -1;
  let lo: u32 = lead == 0xe0 ? 0xa0 : lead == 0xf0 ? 0x90 : 0x80;
  let hi: u32 = lead == 0xed ? 0x9f : lead == 0xf4 ? 0x8f : 0xbf;
  for (let i = 1; i < n; i++) {
    if (at + <usize>i >= end) return -i;
    const next = <u32>load<u8>(at + <usize>i);
    if (next < lo || next > hi) return -i;
    lo = 0x80;
    hi = 0xbf;
  }
  return n;
}

/**
 * `bytes` decoded as UTF-8. Each ill-formed sequence becomes one U+FFFD (as in `TextDecoder`),
 * and decoding resumes right after it, so no valid byte is lost.
 */
export function decode(bytes: Uint8Array): string {
  const start = bytes.dataStart;
  const end = start + <usize>bytes.length;
  let at = start;
  for (let n = 0; at < end && (n = utf8Sequence(at, end)) > 0; ) at += <usize>n;
  if (at == end) return String.UTF8.decodeUnsafe(start, <usize>bytes.length);
  // Ill-formed: copy the text with EF BF BD (U+FFFD) in place of each ill-formed sequence.
  const fixed = new Uint8Array(bytes.length * 3);
  let to = fixed.dataStart;
  for (at = start; at < end; ) {
    const n = utf8Sequence(at, end);
    if (n > 0) {
      memory.copy(to, at, <usize>n);
      to += <usize>n;
      at += <usize>n;
    } else {
      store<u16>(to, 0xbfef);
      store<u8>(to, 0xbd, 2);
      to += 3;
      at += <usize>-n;
    }
  }
  return String.UTF8.decodeUnsafe(fixed.dataStart, to - fixed.dataStart);
}

/** Copies `count` bytes from linear memory at `source` into kernel memory at `target`. */
export function copyToKernel(target: u64, source: usize, count: usize): void {
  let i: usize = 0;
  for (; i + 8 <= count; i += 8) kernel.store_u64(target + <u64>i, load<u64>(source + i));
  for (; i < count; i++) kernel.store_u8(target + <u64>i, load<u8>(source + i));
}

/** Copies `count` bytes from kernel memory at `source` into linear memory at `target`. */
export function copyFromKernel(target: usize, source: u64, count: usize): void {
  let i: usize = 0;
  for (; i + 8 <= count; i += 8) store<u64>(target + i, kernel.load_u64(source + <u64>i));
  for (; i < count; i++) store<u8>(target + i, kernel.load_u8(source + <u64>i));
}
