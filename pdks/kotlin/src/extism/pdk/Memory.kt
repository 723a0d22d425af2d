package extism.pdk

/**
 * A block of kernel memory: what host functions take and return (an offset into the kernel's
 * memory, an i64). The kernel represents a zero-length block by offset 0, so [EMPTY] stands for
 * every empty block and freeing it does nothing.
 */
class MemoryBlock(val offset: Long, val length: Long) {
    /** The block's bytes, copied into this module. */
    fun readBytes(): ByteArray = copyIn(offset, length, ::kLoadU64, ::kLoadU8)

    /** The block's bytes as UTF-8 text (malformed sequences become U+FFFD). */
    fun readString(): String = readBytes().decodeToString()

    /** Give the block back to the kernel. Never free a block a kernel call has taken (see [Memory]). */
    fun free() {
        if (offset != 0L) kFree(offset)
    }

    companion object {
        /** The empty block (offset 0). */
        val EMPTY = MemoryBlock(0L, 0L)
    }
}

/**
 * Kernel memory. Ownership (measured on runtime 1.41): the kernel frees the blocks passed to
 * config_get, var_get, var_set, http_request and log_*, so the PDK never frees those; blocks
 * those calls return belong to the caller, and the PDK frees them once copied.
 */
object Memory {
    /** A new kernel block holding [bytes] ([MemoryBlock.EMPTY] for none). */
    fun allocate(bytes: ByteArray): MemoryBlock {
        if (bytes.isEmpty()) return MemoryBlock.EMPTY
        val offset = kAlloc(bytes.size.toLong())
        if (offset == 0L) throw PluginError("out of kernel memory (${bytes.size} bytes)")
        copyOut(bytes, offset)
        return MemoryBlock(offset, bytes.size.toLong())
    }

    /** A new kernel block holding [text] as UTF-8. */
    fun allocate(text: String): MemoryBlock = allocate(text.encodeToByteArray())

    /** The block at [offset], e.g. one a host function returned (0 is the empty block). */
    fun find(offset: Long): MemoryBlock = if (offset == 0L) MemoryBlock.EMPTY else MemoryBlock(offset, kLength(offset))
}

/** The bytes of a block the caller owns, then the block freed. */
internal fun takeBytes(offset: Long): ByteArray {
    if (offset == 0L) return ByteArray(0)
    val block = Memory.find(offset)
    try {
        return block.readBytes()
    } finally {
        block.free()
    }
}

// Eight bytes per kernel call where possible: a call per byte would make a 16 MiB copy cost
// sixteen million host calls. Little-endian, as the kernel stores u64s.
internal inline fun copyIn(offset: Long, length: Long, loadU64: (Long) -> Long, loadU8: (Long) -> Int): ByteArray {
    if (length > Int.MAX_VALUE) throw PluginError("a block of $length bytes does not fit in a ByteArray")
    val n = length.toInt()
    val out = ByteArray(n)
    var i = 0
    while (i + 8 <= n) {
        var word = loadU64(offset + i)
        for (k in 0 until 8) {
            out[i + k] = word.toByte()
            word = word ushr 8
        }
        i += 8
    }
    while (i < n) {
        out[i] = loadU8(offset + i).toByte()
        i++
    }
    return out
}

internal fun copyOut(bytes: ByteArray, offset: Long) {
    val n = bytes.size
    var i = 0
    while (i + 8 <= n) {
        var word = 0L
        for (k in 7 downTo 0) word = (word shl 8) or (bytes[i + k].toLong() and 0xFF)
        kStoreU64(offset + i, word)
        i += 8
    }
    while (i < n) {
        kStoreU8(offset + i, bytes[i].toInt() and 0xFF)
        i++
    }
}
