package dev.extismplatform.pdk;

/**
 * Support for the wasm exports the build generates around {@link Export} methods. Not for plugin
 * code: it is public only because the generated class lives in another package.
 */
public final class Exports {
    private Exports() {}

    /**
     * Turn what an export threw into the call's error and return the export's failure code. The
     * instance stays usable: the exception unwound normally, so the next call starts clean.
     */
    public static int fail(Throwable thrown) {
        String message;
        try {
            message = describe(thrown);
        } catch (Throwable again) {
            message = "the plugin failed, and describing its error failed too";
        }
        Pdk.setError(message);
        return 1;
    }

    static String describe(Throwable thrown) {
        if (thrown instanceof PluginException && thrown.getMessage() != null) {
            return thrown.getMessage();
        }
        String name = thrown.getClass().getName();
        String message = thrown.getMessage();
        return message == null || message.isEmpty() ? name : name + ": " + message;
    }
}
