/**
 * The plugin's exports: every function exported here is one. Each takes no parameters, reads
 * the call's input, sets the output, and returns 0 (or calls `setError` and returns 1). The API
 * is "extism-pdk", the AssemblyScript PDK.
 */
import { inputString, outputString, setError } from "extism-pdk";
import { MemberKind, quote, stringMember } from "./json";

/** {"name": "Ada"} → {"greeting": "Hello, Ada!"} */
export function greet(): i32 {
  const name = stringMember(inputString(), "name");
  switch (name.kind) {
    case MemberKind.Missing:
      return fail('greet: missing "name" (a string)');
    case MemberKind.NotAString:
      return fail('greet: "name" must be a string');
    case MemberKind.Invalid:
      return fail(`greet: the input is not a JSON object (${name.problem})`);
  }
  const greeting = "Hello, " + name.value + "!";
  outputString(`{"greeting":${quote(greeting)}}`);
  return 0;
}

function fail(message: string): i32 {
  setError(message);
  return 1;
}
