package dev.extismplatform.pdk;

import java.nio.charset.StandardCharsets;
import org.teavm.interop.Address;

/**
 * A block of the kernel's memory: how input, output, config, vars, HTTP bodies and the arguments
 * of host functions travel between a plugin and its host.
 *
 * <pre>{@code
 * Memory arg = Memory.of("some bytes");                 // copy into a new kernel block
 * Memory result = Memory.at(MyHost.lookup(arg.offset())); // a block a host function returned
 * String text = result.string();
 * result.free();
 * }</pre>
 *
 * <p>A zero-length block is offset 0 (the kernel's own convention), so {@code Memory.of(new byte[0])}
 * allocates nothing and {@code Memory.at(0)} is empty.
 */
public final class Memory {
    private final long offset;
    private final long length;

    private Memory(long offset, long length) {
        this.offset = offset;
        this.length = length;
    }

    /** A new, uninitialised kernel block of {@code length} bytes. */
    public static Memory allocate(long length) {
        if (length == 0) {
            return new Memory(0, 0);
        }
        long offset = Kernel.alloc(length);
        if (offset == 0) {
            throw new OutOfMemoryError("the kernel could not allocate " + length + " bytes");
        }
        return new Memory(offset, length);
    }

    /** A new kernel block holding a copy of {@code data}. */
    public static Memory of(byte[] data) {
        Memory block = allocate(data.length);
        store(block.offset, data);
        return block;
    }

    /** A new kernel block holding {@code text} as UTF-8. */
    public static Memory of(String text) {
        return of(text.getBytes(StandardCharsets.UTF_8));
    }

    /** The existing block at {@code offset} (0 is the empty block), e.g. one a host function returned. */
    public static Memory at(long offset) {
        return new Memory(offset, offset == 0 ? 0 : Kernel.length(offset));
    }

    /** The block's offset in kernel memory: what the kernel and host functions take and return. */
    public long offset() {
        return offset;
    }

    /** The block's length in bytes. */
    public long length() {
        return length;
    }

    /** A copy of the block's bytes. */
    public byte[] bytes() {
        return load(offset, length);
    }

    /** The block's bytes decoded as UTF-8 (malformed sequences become U+FFFD). */
    public String string() {
        return new String(bytes(), StandardCharsets.UTF_8);
    }

    /** Give the block back to the kernel. Never free a block after passing it to a kernel call that frees it. */
    public void free() {
        if (offset != 0) {
            Kernel.free(offset);
        }
    }

    // Bytes move eight at a time: one kernel call per 8 bytes instead of per byte. The loops
    // allocate nothing, so the array cannot move under its address while they run.

    static void store(long offset, byte[] data) {
        int n = data.length;
        Address base = Address.ofData(data);
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            Kernel.storeU64(offset + i, base.add(i).getLong());
        }
        for (; i < n; i++) {
            Kernel.storeU8(offset + i, data[i]);
        }
    }

    static byte[] load(long offset, long length) {
        byte[] out = new byte[checkedSize(length)];
        int n = out.length;
        Address base = Address.ofData(out);
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            base.add(i).putLong(Kernel.loadU64(offset + i));
        }
        for (; i < n; i++) {
            out[i] = (byte) Kernel.loadU8(offset + i);
        }
        return out;
    }

    static byte[] loadInput() {
        byte[] out = new byte[checkedSize(Kernel.inputLength())];
        int n = out.length;
        Address base = Address.ofData(out);
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            base.add(i).putLong(Kernel.inputLoadU64(i));
        }
        for (; i < n; i++) {
            out[i] = (byte) Kernel.inputLoadU8(i);
        }
        return out;
    }

    private static int checkedSize(long length) {
        if (length < 0 || length > Integer.MAX_VALUE - 16) {
            throw new OutOfMemoryError("a block of " + length + " bytes does not fit in a Java array");
        }
        return (int) length;
    }
}
