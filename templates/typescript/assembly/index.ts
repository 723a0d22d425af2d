/**
 * The plugin's exports: every function exported here is one. Each takes no parameters, reads
 * the call's input, sets the output, and returns 0 (or calls `setError` and returns 1). The API
 * is "extism-pdk", the AssemblyScript PDK.
 */
import { Json, JsonValue, input, outputString, setError } from "extism-pdk";

/** {"name": "Ada"} → {"greeting": "Hello, Ada!"} */
export function greet(): i32 {
  const parsed = Json.parse(input()); // the input's bytes: ill-formed UTF-8 is an error too
  const doc = parsed.value;
  if (doc === null) return fail(`greet: the input is not a JSON object (${parsed.error})`);
  if (!doc.isObject) return fail("greet: the input is not a JSON object");
  const name = doc.get("name");
  if (name === null) return fail('greet: missing "name" (a string)');
  if (!name.isString) return fail('greet: "name" must be a string');
  const greeting = JsonValue.string(`Hello, ${name.asString()}!`);
  outputString(JsonValue.object().set("greeting", greeting).toString());
  return 0;
}

function fail(message: string): i32 {
  setError(message);
  return 1;
}
