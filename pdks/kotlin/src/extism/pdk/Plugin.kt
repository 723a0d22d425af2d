package extism.pdk

/** An error whose message reaches the host exactly as written (see [handle]). */
class PluginError(message: String) : Exception(message)

/** Fail the current call with exactly [message]. */
fun fail(message: String): Nothing = throw PluginError(message)

/**
 * Run the body of an export: returns 0 when it completes, or sets the call's error and returns 1
 * when it throws. A [PluginError]'s message is the error as written; any other exception reads
 * `<Class>: <message>`. The instance stays usable: the next call runs normally.
 *
 * ```
 * @WasmExport
 * fun greet(): Int = handle { output("Hello, ${inputString()}!") }
 * ```
 */
inline fun handle(body: () -> Unit): Int =
    try {
        body()
        0
    } catch (e: Throwable) {
        setError(e)
        1
    }

/** Make [e] the current call's error (what [handle] does with an exception). */
fun setError(e: Throwable) {
    val name = e::class.simpleName ?: "Throwable"
    val message = e.message
    val text = when {
        e is PluginError && !message.isNullOrEmpty() -> message
        message.isNullOrEmpty() -> name
        else -> "$name: $message"
    }
    // Through a kernel block; never empty, since an empty block is offset 0 = no error.
    kErrorSet(Memory.allocate(text).offset)
}

/** The call's input length in bytes, without copying it. */
fun inputLength(): Long = kInputLength()

/** The call's input. */
fun input(): ByteArray = copyIn(0L, kInputLength(), ::kInputLoadU64, ::kInputLoadU8)

/** The call's input as UTF-8 text. */
fun inputString(): String = input().decodeToString()

/** The call's input parsed as JSON (see [Json.parse]); throws [JsonException] when it is not JSON. */
fun inputJson(): Any? = Json.parse(inputString())

/** Set the call's output (the last call wins). */
fun output(bytes: ByteArray) = output(Memory.allocate(bytes))

/** Set the call's output to UTF-8 text. */
fun output(text: String) = output(text.encodeToByteArray())

/** Set the call's output to [value] written as JSON (see [Json.stringify]). */
fun outputJson(value: Any?) = output(Json.stringify(value))

/** Set the call's output to a kernel block, e.g. one a host function returned; the kernel takes it. */
fun output(block: MemoryBlock) = kOutputSet(block.offset, block.length)

/**
 * The host's config value of [key], or null when it is not set. The kernel cannot tell an empty
 * value from a missing one: both read as null.
 */
fun config(key: String): String? {
    val found = kConfigGet(Memory.allocate(key).offset)
    return if (found == 0L) null else takeBytes(found).decodeToString()
}

/** Vars: bytes kept by the host for as long as the plugin instance lives. */
object Var {
    /** The var [key], or null when it is not set. */
    fun get(key: String): ByteArray? {
        val found = kVarGet(Memory.allocate(key).offset)
        return if (found == 0L) null else takeBytes(found)
    }

    /** The var [key] as UTF-8 text, or null when it is not set. */
    fun getString(key: String): String? = get(key)?.decodeToString()

    /** Set var [key]; an empty value removes it (the kernel's empty block means "no value"). */
    fun set(key: String, value: ByteArray) = kVarSet(Memory.allocate(key).offset, Memory.allocate(value).offset)

    /** Set var [key] to UTF-8 text. */
    fun set(key: String, value: String) = set(key, value.encodeToByteArray())

    /** Remove var [key]. */
    fun remove(key: String) = kVarSet(Memory.allocate(key).offset, 0L)
}

/** Log levels the kernel offers. */
enum class LogLevel { DEBUG, INFO, WARN, ERROR }

/** Send [message] to the host's log at [level] (the host decides which levels it keeps). */
fun log(level: LogLevel, message: String) {
    val block = Memory.allocate(message).offset
    when (level) {
        LogLevel.DEBUG -> kLogDebug(block)
        LogLevel.INFO -> kLogInfo(block)
        LogLevel.WARN -> kLogWarn(block)
        LogLevel.ERROR -> kLogError(block)
    }
}

/** Logging shorthands: `Log.info("…")`. */
object Log {
    fun debug(message: String) = log(LogLevel.DEBUG, message)
    fun info(message: String) = log(LogLevel.INFO, message)
    fun warn(message: String) = log(LogLevel.WARN, message)
    fun error(message: String) = log(LogLevel.ERROR, message)
}
