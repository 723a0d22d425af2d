// AssemblyScript calls `abort` on `throw`, failed `assert`s and runtime errors (index out of
// range, out of memory, …). By default that is an import `env.abort`, which an Extism host does
// not provide, so the module would not even load. The build passes
// `--use abort=~lib/extism-pdk/assembly/abort/extismAbort`, routing those aborts here: the
// message becomes the call's error (`error_set`) and the call traps.
//
// The handler must not allocate on the AssemblyScript heap (the abort may come from the
// allocator itself), so it encodes the message straight into a kernel block in two passes:
// the first only counts bytes, the second stores them.

import * as kernel from "./kernel";

let block: u64 = 0; // 0 while counting
let cursor: u64 = 0;

function put(byte: u32): void {
  if (block != 0) kernel.store_u8(block + cursor, <u8>byte);
  cursor++;
}

function putString(text: string): void {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let c = <u32>text.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
      const low = <u32>text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c < 0xe000) c = 0xfffd; // unpaired surrogate
    if (c < 0x80) {
      put(c);
    } else if (c < 0x800) {
      put(0xc0 | (c >> 6));
      put(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      put(0xe0 | (c >> 12));
      put(0x80 | ((c >> 6) & 0x3f));
      put(0x80 | (c & 0x3f));
    } else {
      put(0xf0 | (c >> 18));
      put(0x80 | ((c >> 12) & 0x3f));
      put(0x80 | ((c >> 6) & 0x3f));
      put(0x80 | (c & 0x3f));
    }
  }
}

function putNumber(value: u32): void {
  let scale: u32 = 1;
  while (value / scale >= 10) scale *= 10;
  for (; scale > 0; scale /= 10) put(0x30 + (value / scale) % 10);
}

function compose(message: string | null, fileName: string | null, line: u32, column: u32): void {
  putString(message !== null ? message : "abort");
  if (fileName !== null) {
    putString(" (");
    putString(fileName);
    put(0x3a);
    putNumber(line);
    put(0x3a);
    putNumber(column);
    put(0x29);
  }
}

/**
 * The abort handler the build installs: sets the call's error to
 * `<message> (<file>:<line>:<column>)` and traps.
 */
export function extismAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  block = 0;
  cursor = 0;
  compose(message, fileName, line, column);
  block = kernel.alloc(cursor);
  cursor = 0;
  compose(message, fileName, line, column);
  kernel.error_set(block);
  unreachable();
}
