// The Kotlin conformance plugin: every export of conformance/CONTRACT.md, written with the PDK's
// public API only. It doubles as the Kotlin PDK's complete example.
@file:OptIn(ExperimentalWasmInterop::class, UnsafeWasmMemoryApi::class)

import extism.pdk.Http
import extism.pdk.HttpRequest
import extism.pdk.Json
import extism.pdk.JsonException
import extism.pdk.LogLevel
import extism.pdk.Memory
import extism.pdk.Var
import extism.pdk.config
import extism.pdk.fail
import extism.pdk.handle
import extism.pdk.input
import extism.pdk.inputLength
import extism.pdk.inputString
import extism.pdk.log
import extism.pdk.output
import extism.pdk.outputJson
import kotlin.wasm.ExperimentalWasmInterop
import kotlin.wasm.WasmExport
import kotlin.wasm.WasmImport
import kotlin.wasm.unsafe.UnsafeWasmMemoryApi
import kotlin.wasm.unsafe.withScopedMemoryAllocator

/** The runner's host function: a kernel block in, the same bytes reversed out. */
@WasmImport("extism:host/user", "reverse_bytes")
external fun reverseBytes(block: Long): Long

@WasmExport
fun echo(): Int = handle { output(input()) }

@WasmExport
fun greet(): Int = handle { output("Hello, ${inputString()}!") }

@WasmExport
fun reverse(): Int = handle { output(input().reversedArray()) }

@WasmExport("input_size")
fun inputSize(): Int = handle { output(inputLength().toString()) }

@WasmExport("json_sum")
fun jsonSum(): Int = handle {
    val doc = try {
        Json.parseObject(inputString())
    } catch (e: JsonException) {
        fail("json_sum: ${e.message}")
    }
    val a = doc["a"] as? Long ?: fail("json_sum: \"a\" must be an integer")
    val b = doc["b"] as? Long ?: fail("json_sum: \"b\" must be an integer")
    outputJson(mapOf("sum" to a + b))
}

@WasmExport
fun config(): Int = handle {
    val key = inputString()
    output(config(key) ?: fail("config key '$key' is not set"))
}

@WasmExport("var_counter")
fun varCounter(): Int = handle {
    val next = (Var.getString("counter")?.toLongOrNull() ?: 0L) + 1
    Var.set("counter", next.toString())
    output(next.toString())
}

@WasmExport("var_set")
fun varSet(): Int = handle {
    val text = input()
    val eq = text.indexOf('='.code.toByte())
    if (eq < 0) fail("var_set: expected <key>=<value>")
    Var.set(text.copyOfRange(0, eq).decodeToString(), text.copyOfRange(eq + 1, text.size))
}

@WasmExport("var_get")
fun varGet(): Int = handle {
    val key = inputString()
    output(Var.get(key) ?: fail("var '$key' is not set"))
}

@WasmExport("var_delete")
fun varDelete(): Int = handle { Var.remove(inputString()) }

@WasmExport
fun fail(): Int = handle { fail(inputString()) }

/** An exception nothing catches: Kotlin's way to abort. The host sees the call fail. */
@WasmExport
fun trap(): Int = throw IllegalStateException("trap: deliberately uncaught")

@WasmExport("http_get")
fun httpGet(): Int = handle {
    val response = Http.get(inputString(), mapOf("X-Conformance" to "1"))
    output("${response.status}\n".encodeToByteArray() + response.body)
}

@WasmExport("http_post")
fun httpPost(): Int = handle {
    val url = config("url") ?: fail("config key 'url' is not set")
    val headers = mapOf("X-Conformance" to "1", "Content-Type" to "text/plain")
    val response = Http.request(HttpRequest(url, "POST", headers), input())
    output("${response.status}\n".encodeToByteArray() + response.body)
}

@WasmExport("host_reverse")
fun hostReverse(): Int = handle {
    val argument = Memory.allocate(input())
    val result = Memory.find(reverseBytes(argument.offset))
    argument.free()
    output(result) // a returned 0 is the empty block: an empty output
}

@WasmExport
fun log(): Int = handle {
    val message = inputString()
    for (level in LogLevel.entries) log(level, "${level.name.lowercase()}: $message")
}

@WasmExport
fun spin(): Int {
    var n = 0L
    while (true) n++
}

@WasmExport
fun grow(): Int = handle {
    val pages = inputString().toIntOrNull() ?: fail("grow: expected a decimal page count")
    // Linear memory, not a ByteArray: GC objects live outside it, where memory.max_pages does not reach.
    withScopedMemoryAllocator { allocator ->
        val bytes = pages.toLong() * 65536
        if (bytes > Int.MAX_VALUE) fail("grow: $pages pages exceed the 32-bit address space")
        if (bytes > 0) {
            val start = allocator.allocate(bytes.toInt())
            start.storeByte(1)
            (start + (bytes.toInt() - 1)).storeByte(1)
        }
    }
    output("ok")
}

@WasmExport("large_output")
fun largeOutput(): Int = handle {
    val n = inputString().toIntOrNull() ?: fail("large_output: expected a decimal byte count")
    output(ByteArray(n) { (it % 251).toByte() })
}
