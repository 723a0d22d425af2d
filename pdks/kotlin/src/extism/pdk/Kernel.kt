// The Extism kernel's functions (module `extism:host/env`), as the host links them. Every offset
// and length is an i64 into kernel memory, which is not this module's memory: bytes move through
// load_*/store_* one u64 (or u8) at a time. Internal: plugins use the API of Plugin.kt and friends.
@file:OptIn(ExperimentalWasmInterop::class)

package extism.pdk

import kotlin.wasm.ExperimentalWasmInterop
import kotlin.wasm.WasmImport

@WasmImport("extism:host/env", "input_length")
internal external fun kInputLength(): Long

@WasmImport("extism:host/env", "input_load_u8")
internal external fun kInputLoadU8(offset: Long): Int

@WasmImport("extism:host/env", "input_load_u64")
internal external fun kInputLoadU64(offset: Long): Long

@WasmImport("extism:host/env", "alloc")
internal external fun kAlloc(length: Long): Long

@WasmImport("extism:host/env", "free")
internal external fun kFree(offset: Long)

@WasmImport("extism:host/env", "length")
internal external fun kLength(offset: Long): Long

@WasmImport("extism:host/env", "load_u8")
internal external fun kLoadU8(offset: Long): Int

@WasmImport("extism:host/env", "load_u64")
internal external fun kLoadU64(offset: Long): Long

@WasmImport("extism:host/env", "store_u8")
internal external fun kStoreU8(offset: Long, value: Int)

@WasmImport("extism:host/env", "store_u64")
internal external fun kStoreU64(offset: Long, value: Long)

@WasmImport("extism:host/env", "output_set")
internal external fun kOutputSet(offset: Long, length: Long)

@WasmImport("extism:host/env", "error_set")
internal external fun kErrorSet(offset: Long)

@WasmImport("extism:host/env", "config_get")
internal external fun kConfigGet(key: Long): Long

@WasmImport("extism:host/env", "var_get")
internal external fun kVarGet(key: Long): Long

@WasmImport("extism:host/env", "var_set")
internal external fun kVarSet(key: Long, value: Long)

@WasmImport("extism:host/env", "http_request")
internal external fun kHttpRequest(request: Long, body: Long): Long

@WasmImport("extism:host/env", "http_status_code")
internal external fun kHttpStatusCode(): Int

@WasmImport("extism:host/env", "log_debug")
internal external fun kLogDebug(message: Long)

@WasmImport("extism:host/env", "log_info")
internal external fun kLogInfo(message: Long)

@WasmImport("extism:host/env", "log_warn")
internal external fun kLogWarn(message: Long)

@WasmImport("extism:host/env", "log_error")
internal external fun kLogError(message: Long)
