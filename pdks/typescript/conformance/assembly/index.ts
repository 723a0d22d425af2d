// The AssemblyScript PDK's conformance plugin: every export of conformance/CONTRACT.md, written
// with the PDK's public API only.

import {
  Config,
  Http,
  HttpRequest,
  HttpResponse,
  Json,
  JsonValue,
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
  const parsed = Json.parse(input());
  const doc = parsed.value;
  if (doc === null) return failWith(`json_sum: the input is not JSON: ${parsed.error}`);
  const a = doc.get("a");
  const b = doc.get("b");
  if (a === null || b === null || !a.isInteger || !b.isInteger) {
    return failWith('json_sum: expected an object with integer members "a" and "b"');
  }
  const x = a.asI64();
  const y = b.asI64();
  const sum = x + y;
  if (((x ^ sum) & (y ^ sum)) < 0) return failWith("json_sum: a + b overflows 64 bits");
  outputString(JsonValue.object().set("sum", JsonValue.integer(sum)).toString());
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
