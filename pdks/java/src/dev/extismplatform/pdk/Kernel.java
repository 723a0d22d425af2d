package dev.extismplatform.pdk;

import org.teavm.interop.Import;

/**
 * The Extism kernel's functions (wasm module {@code extism:host/env}), one native method each.
 *
 * <p>Every offset and length is a 64-bit number into the kernel's memory, not the plugin's. Use
 * {@link Pdk} and {@link Memory} instead; this class is public for plugins that need the raw ABI.
 * Only the functions a plugin calls become imports of its module (TeaVM links what is reachable).
 *
 * <p>Ownership (measured on runtime 1.41): the kernel frees the blocks passed to {@code config_get},
 * {@code var_get}, {@code var_set}, {@code http_request} and {@code log_*} itself; the blocks those
 * calls return belong to the caller.
 */
public final class Kernel {
    private Kernel() {}

    private static final String ENV = "extism:host/env";

    @Import(module = ENV, name = "input_length")
    public static native long inputLength();

    @Import(module = ENV, name = "input_load_u8")
    public static native int inputLoadU8(long offset);

    @Import(module = ENV, name = "input_load_u64")
    public static native long inputLoadU64(long offset);

    @Import(module = ENV, name = "alloc")
    public static native long alloc(long length);

    @Import(module = ENV, name = "free")
    public static native void free(long offset);

    @Import(module = ENV, name = "length")
    public static native long length(long offset);

    @Import(module = ENV, name = "load_u8")
    public static native int loadU8(long offset);

    @Import(module = ENV, name = "load_u64")
    public static native long loadU64(long offset);

    @Import(module = ENV, name = "store_u8")
    public static native void storeU8(long offset, byte value);

    @Import(module = ENV, name = "store_u64")
    public static native void storeU64(long offset, long value);

    @Import(module = ENV, name = "output_set")
    public static native void outputSet(long offset, long length);

    @Import(module = ENV, name = "error_set")
    public static native void errorSet(long offset);

    @Import(module = ENV, name = "config_get")
    public static native long configGet(long keyOffset);

    @Import(module = ENV, name = "var_get")
    public static native long varGet(long keyOffset);

    @Import(module = ENV, name = "var_set")
    public static native void varSet(long keyOffset, long valueOffset);

    @Import(module = ENV, name = "http_request")
    public static native long httpRequest(long requestOffset, long bodyOffset);

    @Import(module = ENV, name = "http_status_code")
    public static native int httpStatusCode();

    @Import(module = ENV, name = "http_headers")
    public static native long httpHeaders();

    @Import(module = ENV, name = "log_debug")
    public static native void logDebug(long offset);

    @Import(module = ENV, name = "log_info")
    public static native void logInfo(long offset);

    @Import(module = ENV, name = "log_warn")
    public static native void logWarn(long offset);

    @Import(module = ENV, name = "log_error")
    public static native void logError(long offset);
}
