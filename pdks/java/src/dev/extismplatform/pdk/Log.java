package dev.extismplatform.pdk;

/**
 * Log lines through the host, at the host's log levels.
 *
 * <pre>{@code
 * Log.info("fetched " + count + " items");
 * }</pre>
 *
 * <p>The host drops lines below its configured level.
 */
public final class Log {
    private Log() {}

    /** The levels the kernel offers. */
    public enum Level {
        DEBUG,
        INFO,
        WARN,
        ERROR
    }

    /** Log {@code message} at {@code level}. */
    public static void log(Level level, String message) {
        // The kernel frees the message block itself.
        long block = Memory.of(message).offset();
        switch (level) {
            case DEBUG:
                Kernel.logDebug(block);
                break;
            case INFO:
                Kernel.logInfo(block);
                break;
            case WARN:
                Kernel.logWarn(block);
                break;
            default:
                Kernel.logError(block);
                break;
        }
    }

    public static void debug(String message) {
        log(Level.DEBUG, message);
    }

    public static void info(String message) {
        log(Level.INFO, message);
    }

    public static void warn(String message) {
        log(Level.WARN, message);
    }

    public static void error(String message) {
        log(Level.ERROR, message);
    }
}
