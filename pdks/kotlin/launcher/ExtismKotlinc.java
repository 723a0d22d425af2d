// Runs several Kotlin/Wasm compiler invocations in one JVM, one argument file each, in order.
// The compiler is a JVM program whose start-up (loading ~60 MB of classes, warming the JIT)
// costs as much as the work of a small plugin: the klib step and the link step of a build share
// one start-up instead of paying it twice. Compiled once by the Kotlin toolchain driver
// (hatch_extism.toolchains.kotlin) into the platform cache.
import org.jetbrains.kotlin.cli.common.ExitCode;
import org.jetbrains.kotlin.cli.js.KotlinWasmCompiler;

public final class ExtismKotlinc {
    private ExtismKotlinc() {}

    public static void main(String[] args) {
        for (String argfile : args) {
            ExitCode code = new KotlinWasmCompiler().exec(System.err, "@" + argfile);
            if (code != ExitCode.OK) {
                System.err.println("extism-kotlinc: " + argfile + " failed (" + code + ")");
                System.exit(code.getCode() == 0 ? 1 : code.getCode());
            }
        }
    }
}
