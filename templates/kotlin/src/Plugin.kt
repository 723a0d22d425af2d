// The plugin's exports. Each is a top-level `fun name(): Int` marked `@WasmExport`; write its body
// inside `handle { … }`, which returns 0, or 1 with an exception's message set as the call's error.
// The API is package extism.pdk, the Kotlin PDK.
import extism.pdk.Json
import extism.pdk.JsonException
import extism.pdk.fail
import extism.pdk.handle
import extism.pdk.inputString
import extism.pdk.outputJson
import kotlin.wasm.WasmExport

/** {"name": "Ada"} -> {"greeting": "Hello, Ada!"} */
@WasmExport
fun greet(): Int = handle {
    val input = try {
        Json.parse(inputString())
    } catch (e: JsonException) {
        fail("greet: the input is not a JSON object (${e.message})")
    }
    if (input !is Map<*, *>) fail("greet: the input is not a JSON object")
    if ("name" !in input) fail("greet: missing \"name\" (a string)")
    val name = input["name"] as? String ?: fail("greet: \"name\" must be a string")
    outputJson(mapOf("greeting" to "Hello, $name!"))
}
