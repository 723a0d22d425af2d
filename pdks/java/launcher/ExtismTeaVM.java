/*
 * The Java driver's build step, run by hatch_extism/toolchains/java.py in one JVM with TeaVM's jars
 * on the class path (TeaVM 0.13.1 has no published Maven plugin to do this):
 *
 *   1. compile the PDK's and the plugin's sources with the JDK's compiler (javax.tools);
 *   2. find every @dev.extismplatform.pdk.Export method and write a class of wasm exports around
 *      them (input in, output out, a throwable turned into the call's error), then compile it;
 *   3. run TeaVM's WASI target over the classes, with that class as the main class and every
 *      class holding raw @org.teavm.interop.Export methods preserved, and report its problems.
 *
 * Usage: java -cp <this>:<teavm jars> ExtismTeaVM --sources FILE --work DIR --out FILE.wasm
 *          --interop JAR [--opt small|speed|debug] [--min-heap-mib N] [--max-heap-mib N]
 * FILE lists the .java files, one per line. Exit 0 = built; 1 = the plugin's fault (messages on
 * stderr); 2 = bad arguments.
 */

import java.io.File;
import java.io.IOException;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.teavm.diagnostics.DefaultProblemTextConsumer;
import org.teavm.diagnostics.Problem;
import org.teavm.diagnostics.ProblemSeverity;
import org.teavm.model.CallLocation;
import org.teavm.model.TextLocation;
import org.teavm.tooling.TeaVMTargetType;
import org.teavm.tooling.TeaVMTool;
import org.teavm.tooling.TeaVMToolLog;
import org.teavm.vm.TeaVMOptimizationLevel;

public final class ExtismTeaVM {
    /** The generated class: in the unnamed package, so it can call plugins that live there too. */
    static final String EXPORTS_CLASS = "ExtismPlatformExports";
    static final String PDK_EXPORT = "dev.extismplatform.pdk.Export";
    static final String RAW_EXPORT = "org.teavm.interop.Export";

    static final class Failure extends Exception {
        private static final long serialVersionUID = 1L;

        Failure(String message) {
            super(message);
        }
    }

    public static void main(String[] args) {
        Map<String, String> options;
        try {
            options = parse(args);
        } catch (IllegalArgumentException bad) {
            System.err.println("ExtismTeaVM: " + bad.getMessage());
            System.exit(2);
            return;
        }
        try {
            build(options);
        } catch (Failure failure) {
            System.err.println(failure.getMessage());
            System.exit(1);
        } catch (Exception crash) {
            System.err.println("TeaVM failed: " + crash);
            crash.printStackTrace();
            System.exit(1);
        }
    }

    static Map<String, String> parse(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        options.put("--opt", "small");
        options.put("--min-heap-mib", "4");
        options.put("--max-heap-mib", "128");
        List<String> known = Arrays.asList(
                "--sources", "--work", "--out", "--interop", "--opt", "--min-heap-mib", "--max-heap-mib");
        for (int i = 0; i < args.length; i += 2) {
            if (!known.contains(args[i]) || i + 1 >= args.length) {
                throw new IllegalArgumentException("unknown option or missing value: " + args[i]
                        + " (options: " + String.join(", ", known) + ")");
            }
            options.put(args[i], args[i + 1]);
        }
        for (String required : Arrays.asList("--sources", "--work", "--out", "--interop")) {
            if (!options.containsKey(required)) {
                throw new IllegalArgumentException("missing " + required);
            }
        }
        return options;
    }

    static void build(Map<String, String> options) throws Exception {
        Path work = Paths.get(options.get("--work"));
        Path classes = work.resolve("classes");
        Files.createDirectories(classes);
        List<File> sources = Files.readAllLines(Paths.get(options.get("--sources")), StandardCharsets.UTF_8).stream()
                .filter(line -> !line.isBlank())
                .map(File::new)
                .collect(Collectors.toList());
        File interop = new File(options.get("--interop"));

        long start = System.nanoTime();
        compile(sources, classes, interop);
        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()},
                ExtismTeaVM.class.getClassLoader())) {
            Scan scan = scan(classes, loader);
            if (scan.exports.isEmpty() && scan.rawClasses.isEmpty()) {
                throw new Failure("no exports: mark a public static method with @Export(name = \"...\") "
                        + "(dev.extismplatform.pdk.Export)");
            }
            Path generated = work.resolve("generated").resolve(EXPORTS_CLASS + ".java");
            Files.createDirectories(generated.getParent());
            Files.write(generated, exportsSource(scan.exports).getBytes(StandardCharsets.UTF_8));
            compile(List.of(generated.toFile()), classes, interop, classes.toFile());
            double javacSeconds = (System.nanoTime() - start) / 1e9;

            start = System.nanoTime();
            teavm(options, classes, scan);
            double teavmSeconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("javac %.2f s, TeaVM %.2f s; exports: %s%n", javacSeconds, teavmSeconds,
                    String.join(", ", scan.allExportNames()));
        }
    }

    // ---- 1. javac ----------------------------------------------------------------------------

    static void compile(List<File> sources, Path classes, File... classPath) throws Failure, IOException {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            throw new Failure("this Java runtime has no compiler (javax.tools): run the build with a JDK, not a JRE");
        }
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, null, StandardCharsets.UTF_8)) {
            String cp = Arrays.stream(classPath).map(File::getPath).collect(Collectors.joining(File.pathSeparator));
            // --release 17: the language and class library a plugin may use, whichever JDK runs this.
            List<String> flags = List.of("--release", "17", "-encoding", "UTF-8", "-d", classes.toString(),
                    "-classpath", cp, "-Xlint:-options", "-implicit:none");
            StringWriter log = new StringWriter();
            boolean ok = javac.getTask(log, files, diagnostics, flags, null,
                    files.getJavaFileObjectsFromFiles(sources)).call();
            if (!ok) {
                StringBuilder text = new StringBuilder("javac failed:\n");
                diagnostics.getDiagnostics().forEach(d -> text.append(d.toString()).append('\n'));
                text.append(log);
                throw new Failure(text.toString().strip());
            }
        }
    }

    // ---- 2. the exports ------------------------------------------------------------------------

    static final class PdkExport {
        final String name;
        final Method method;

        PdkExport(String name, Method method) {
            this.name = name;
            this.method = method;
        }
    }

    static final class Scan {
        final Map<String, PdkExport> exports = new TreeMap<>();
        final Map<String, List<String>> rawClasses = new TreeMap<>(); // class -> its raw export names

        List<String> allExportNames() {
            List<String> names = new ArrayList<>(exports.keySet());
            rawClasses.values().forEach(names::addAll);
            names.sort(Comparator.naturalOrder());
            return names;
        }
    }

    static Scan scan(Path classes, ClassLoader loader) throws Exception {
        @SuppressWarnings("unchecked")
        Class<? extends java.lang.annotation.Annotation> pdkExport =
                (Class<? extends java.lang.annotation.Annotation>) loader.loadClass(PDK_EXPORT);
        Class<org.teavm.interop.Export> rawExport = org.teavm.interop.Export.class;
        List<String> names;
        try (Stream<Path> walk = Files.walk(classes)) {
            names = walk.filter(p -> p.toString().endsWith(".class"))
                    .map(p -> classes.relativize(p).toString().replace(File.separatorChar, '.'))
                    .map(n -> n.substring(0, n.length() - ".class".length()))
                    .filter(n -> !n.equals(EXPORTS_CLASS))
                    .sorted()
                    .collect(Collectors.toList());
        }
        Scan scan = new Scan();
        Map<String, String> owner = new TreeMap<>();
        List<String> problems = new ArrayList<>();
        for (String name : names) {
            Class<?> type = Class.forName(name, false, loader);
            Method[] methods = type.getDeclaredMethods();
            Arrays.sort(methods, Comparator.comparing(Method::toString));
            for (Method method : methods) {
                String where = name + "." + method.getName();
                java.lang.annotation.Annotation ours = method.getAnnotation(pdkExport);
                org.teavm.interop.Export raw = method.getAnnotation(rawExport);
                String exportName;
                if (ours != null) {
                    exportName = (String) pdkExport.getMethod("name").invoke(ours);
                    String problem = checkSignature(method);
                    if (problem != null) {
                        problems.add(where + ": " + problem);
                        continue;
                    }
                    scan.exports.put(exportName, new PdkExport(exportName, method));
                } else if (raw != null) {
                    exportName = raw.name();
                    scan.rawClasses.computeIfAbsent(name, k -> new ArrayList<>()).add(exportName);
                } else {
                    continue;
                }
                if (!exportName.matches("[A-Za-z_][A-Za-z0-9_.\\-]*")) {
                    problems.add(where + ": export name \"" + exportName + "\" is not a plain identifier");
                }
                String previous = owner.put(exportName, where);
                if (previous != null) {
                    problems.add("export \"" + exportName + "\" is declared twice: " + previous + " and " + where);
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new Failure(String.join("\n", problems));
        }
        return scan;
    }

    static String checkSignature(Method method) {
        int mods = method.getModifiers();
        if (!Modifier.isStatic(mods) || !Modifier.isPublic(mods) || !Modifier.isPublic(method.getDeclaringClass().getModifiers())) {
            return "an @Export method must be public and static, in a public class";
        }
        Class<?>[] params = method.getParameterTypes();
        if (params.length > 1 || (params.length == 1 && params[0] != byte[].class && params[0] != String.class)) {
            return "an @Export method takes nothing, byte[] or String (the input)";
        }
        Class<?> result = method.getReturnType();
        if (result != void.class && result != byte[].class && result != String.class) {
            return "an @Export method returns void, byte[] or String (the output)";
        }
        return null;
    }

    static String exportsSource(Map<String, PdkExport> exports) {
        StringBuilder java = new StringBuilder();
        java.append("// Generated by ExtismTeaVM: the wasm exports around the plugin's @Export methods.\n");
        java.append("public final class ").append(EXPORTS_CLASS).append(" {\n");
        java.append("    public static void main(String[] args) {}\n");
        int index = 0;
        for (PdkExport export : exports.values()) {
            Method m = export.method;
            String target = m.getDeclaringClass().getCanonicalName() + "." + m.getName();
            String arg = "";
            if (m.getParameterCount() == 1) {
                arg = m.getParameterTypes()[0] == String.class
                        ? "dev.extismplatform.pdk.Pdk.inputString()"
                        : "dev.extismplatform.pdk.Pdk.input()";
            }
            String call = target + "(" + arg + ")";
            if (m.getReturnType() != void.class) {
                call = "dev.extismplatform.pdk.Pdk.output(" + call + ")";
            }
            java.append("\n    @org.teavm.interop.Export(name = \"").append(export.name).append("\")\n");
            java.append("    public static int export").append(index++).append("() {\n");
            java.append("        try {\n");
            java.append("            ").append(call).append(";\n");
            java.append("            return 0;\n");
            java.append("        } catch (Throwable thrown) {\n");
            java.append("            return dev.extismplatform.pdk.Exports.fail(thrown);\n");
            java.append("        }\n");
            java.append("    }\n");
        }
        java.append("}\n");
        return java.toString();
    }

    // ---- 3. TeaVM ------------------------------------------------------------------------------

    static void teavm(Map<String, String> options, Path classes, Scan scan) throws Exception {
        Path out = Paths.get(options.get("--out")).toAbsolutePath();
        TeaVMTool tool = new TeaVMTool();
        tool.setTargetType(TeaVMTargetType.WEBASSEMBLY_WASI);
        tool.setMainClass(EXPORTS_CLASS);
        tool.setTargetDirectory(out.getParent().toFile());
        tool.setTargetFileName(out.getFileName().toString());
        String opt = options.get("--opt");
        switch (opt) {
            case "small":
            case "speed":
                tool.setOptimizationLevel(TeaVMOptimizationLevel.FULL);
                break;
            case "debug":
                tool.setOptimizationLevel(TeaVMOptimizationLevel.SIMPLE);
                break;
            default:
                throw new Failure("unknown optimize mode " + opt + " (small, speed or debug)");
        }
        tool.setMinHeapSize(mib(options, "--min-heap-mib"));
        tool.setMaxHeapSize(mib(options, "--max-heap-mib"));
        // Classes with raw @org.teavm.interop.Export methods are reached by nothing else.
        tool.getClassesToPreserve().addAll(scan.rawClasses.keySet());
        tool.setClassLoader(new URLClassLoader(new URL[] {classes.toUri().toURL()}, ExtismTeaVM.class.getClassLoader()));
        tool.setLog(new QuietLog());
        tool.generate();
        List<String> errors = new ArrayList<>();
        for (Problem problem : tool.getProblemProvider().getProblems()) {
            String text = render(problem);
            if (problem.getSeverity() == ProblemSeverity.ERROR) {
                errors.add(text);
            } else {
                System.out.println("warning: " + text);
            }
        }
        if (!errors.isEmpty()) {
            throw new Failure("TeaVM could not compile the plugin (" + errors.size() + " problem"
                    + (errors.size() == 1 ? "" : "s") + "; TeaVM has its own subset of the Java class library):\n  "
                    + String.join("\n  ", errors));
        }
        if (!Files.isRegularFile(out)) {
            throw new Failure("TeaVM reported no problem but wrote no " + out);
        }
    }

    static int mib(Map<String, String> options, String key) throws Failure {
        try {
            int n = Integer.parseInt(options.get(key));
            if (n < 1 || n > 2047) {
                throw new NumberFormatException();
            }
            return n * 1024 * 1024;
        } catch (NumberFormatException bad) {
            throw new Failure(key + " must be a whole number of MiB between 1 and 2047, not " + options.get(key));
        }
    }

    static String render(Problem problem) {
        DefaultProblemTextConsumer text = new DefaultProblemTextConsumer();
        problem.render(text);
        CallLocation location = problem.getLocation();
        if (location == null || location.getMethod() == null) {
            return text.getText();
        }
        StringBuilder where = new StringBuilder(location.getMethod().getClassName())
                .append('.').append(location.getMethod().getName());
        TextLocation source = location.getSourceLocation();
        if (source != null && !source.isEmpty()) {
            where.append(" (").append(source.getFileName()).append(':').append(source.getLine()).append(')');
        }
        return text.getText() + " — in " + where;
    }

    /** TeaVM's own chatter goes nowhere; its problems are reported above. */
    static final class QuietLog implements TeaVMToolLog {
        public void info(String text) {}

        public void debug(String text) {}

        public void warning(String text) {
            System.out.println("warning: " + text);
        }

        public void error(String text) {
            System.err.println(text);
        }

        public void info(String text, Throwable e) {}

        public void debug(String text, Throwable e) {}

        public void warning(String text, Throwable e) {
            warning(text + ": " + e);
        }

        public void error(String text, Throwable e) {
            error(text + ": " + e);
        }
    }
}
