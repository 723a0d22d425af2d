// The plugin's exports: each function named in plugin.yaml's `exports` is one wasm export.
// It reads the call's input, returns the output (a string, bytes, or any value as JSON), and
// throws to fail the call: `throw new Host.Error(msg)` sends exactly `msg` to the host. The API is
// the global `Host` (pdks/javascript/README.md in extism-platform).

/** {"name": "Ada"} -> {"greeting": "Hello, Ada!"} */
function greet() {
  let args;
  try {
    args = Host.inputJSON();
  } catch {
    throw new Host.Error("greet: the input is not a JSON object");
  }
  if (args === null || typeof args !== "object" || Array.isArray(args))
    throw new Host.Error("greet: the input is not a JSON object");
  if (!("name" in args)) throw new Host.Error('greet: missing "name" (a string)');
  if (typeof args.name !== "string") throw new Host.Error('greet: "name" must be a string');
  return { greeting: `Hello, ${args.name}!` };
}
