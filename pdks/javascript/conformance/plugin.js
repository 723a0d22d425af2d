// The JavaScript PDK's conformance plugin: every export of conformance/CONTRACT.md.

const reverseBytes = Host.hostFunction("extism:host/user", "reverse_bytes");

function echo() {
  return Host.input();
}

function greet() {
  return `Hello, ${Host.inputString()}!`;
}

function reverse() {
  return Host.input().reverse();
}

function input_size() {
  return String(Host.input().length);
}

function json_sum() {
  let value;
  try {
    value = Host.inputJSON();
  } catch (e) {
    throw new Host.Error(`json_sum: ${e.name}: ${e.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new Host.Error("json_sum: the input is not a JSON object");
  // JSON.parse reads numbers as doubles; integers beyond 2^53 would be rounded.
  const { a, b } = value;
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b))
    throw new Host.Error("json_sum: members a and b must be integers (|n| < 2^53)");
  return `{"sum":${BigInt(a) + BigInt(b)}}`;
}

function config() {
  const key = Host.inputString();
  const value = Host.config.get(key);
  if (value === null) throw new Host.Error(`config key '${key}' is not set`);
  return value;
}

function var_counter() {
  const count = Number(Host.vars.getString("counter") ?? 0) + 1;
  Host.vars.set("counter", String(count));
  return String(count);
}

function var_set() {
  const input = Host.input();
  const split = input.indexOf(0x3d); // "="
  if (split < 0) throw new Host.Error("var_set: the input is not <key>=<value>");
  const key = new TextDecoder().decode(input.subarray(0, split));
  Host.vars.set(key, input.subarray(split + 1)); // the value stays bytes
}

function var_get() {
  const key = Host.inputString();
  const value = Host.vars.get(key);
  if (value === null) throw new Host.Error(`var '${key}' is not set`);
  return value;
}

function var_delete() {
  Host.vars.remove(Host.inputString());
}

function fail() {
  throw new Host.Error(Host.inputString());
}

function trap() {
  Host.trap();
}

function statusAndBody(response) {
  const head = new TextEncoder().encode(`${response.status}\n`);
  const out = new Uint8Array(head.length + response.body.length);
  out.set(head);
  out.set(response.body, head.length);
  return out;
}

function http_get() {
  return statusAndBody(Host.http.request(Host.inputString(), { headers: { "X-Conformance": "1" } }));
}

function http_post() {
  const url = Host.config.get("url");
  if (url === null) throw new Host.Error("config key 'url' is not set");
  const headers = { "X-Conformance": "1", "Content-Type": "text/plain" };
  return statusAndBody(Host.http.request(url, { method: "POST", headers, body: Host.input() }));
}

function host_reverse() {
  const block = reverseBytes(Host.input());
  const result = Host.memory.read(block);
  Host.memory.free(block);
  return result;
}

function log() {
  const message = Host.inputString();
  Host.log.debug(`debug: ${message}`);
  Host.log.info(`info: ${message}`);
  Host.log.warn(`warn: ${message}`);
  Host.log.error(`error: ${message}`);
}

function spin() {
  for (;;) {}
}

function grow() {
  const pages = Number(Host.inputString());
  const block = new Uint8Array(pages * 65536); // a RangeError/InternalError when memory cannot grow
  block[block.length - 1] = 1;
  return "ok";
}

function large_output() {
  const size = Number(Host.inputString());
  const out = new Uint8Array(size);
  for (let i = 0; i < Math.min(size, 251); i++) out[i] = i;
  for (let filled = 251; filled < size; filled *= 2) out.copyWithin(filled, 0, filled); // period 251 kept
  return out;
}
