/* The Python PDK's runtime: CPython 3.11 (wasm32-wasi) embedded in an Extism plugin.
 *
 * This file is compiled once per toolchain version and cached; every plugin links it with the
 * interpreter (libpython3.11.a) and a generated bundle (see hatch_extism/toolchains/python.py)
 * defining the tables of bundle.h: the exports, the plugin's modules, the bundled standard
 * library, the built-in modules to link and the host functions the plugin imports.
 *
 * It provides:
 *   - `extism_py_call(name)`: what every generated export calls. The first call starts the
 *     interpreter and imports the plugin's entry module; each call then runs the entry module's
 *     function `name` and turns an uncaught exception into the call's error.
 *   - the built-in module `_extism`: the Extism kernel (extism:host/env) for Python, wrapped
 *     by the public `extism_pdk` module (pdks/python/extism_pdk.py).
 *
 * Kernel facts this code lives with (runtime 1.41): every pointer and length is an i64 into
 * kernel memory; a zero-length block is offset 0 (`alloc(0)` returns 0); the kernel frees the
 * blocks passed to config_get, var_get, var_set, http_request and log_* itself.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- the kernel ------------------------------------------------------------------------- */

#include "extism-pdk.h" /* the kernel imports, declared once: pdks/c */

typedef ExtismHandle Block; /* an offset into kernel memory; 0 is "no block" or "empty block" */

/* ---- the generated bundle: bundle.h declares its tables ----------------------------------- */

#include "bundle.h"

/* The importer for the bundled sources; runs once, right after the interpreter starts. */
static const char bootstrap_py[] = {
#embed "bootstrap.py"
    , 0};

/* ---- moving bytes between plugin memory and kernel blocks (extism_load / extism_store) ----- */

/* A new block holding `data`; 0 for empty data. Sets MemoryError and returns 0 on failure,
 * so callers check `n && !block`. */
static Block block_from(const void *data, uint64_t n) {
    if (n == 0) return 0;
    Block b = extism_alloc(n);
    if (!b) {
        PyErr_Format(PyExc_MemoryError, "the Extism kernel could not allocate %llu bytes",
                     (unsigned long long)n);
        return 0;
    }
    extism_store(b, data, n);
    return b;
}

/* The bytes of block `b` (0 = empty) as a new `bytes` object. */
static PyObject *bytes_from_block(Block b) {
    uint64_t n = b ? extism_length(b) : 0;
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (bytes) extism_load(b, (uint8_t *)PyBytes_AS_STRING(bytes), n);
    return bytes;
}

/* A block holding the UTF-8 text of `str`. Sets an exception and returns 0 on failure. */
static Block block_from_str(PyObject *str, int *failed) {
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(str, &n);
    if (!text) {
        *failed = 1;
        return 0;
    }
    Block b = block_from(text, (uint64_t)n);
    *failed = n && !b;
    return b;
}

/* ---- the `_extism` module ------------------------------------------------------------------ */

static PyObject *ErrorType; /* _extism.Error, re-exported as extism_pdk.Error */

static PyObject *py_input(PyObject *self, PyObject *unused) {
    uint64_t n = extism_input_length();
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (!bytes) return NULL;
    extism_input_read(PyBytes_AS_STRING(bytes), n);
    return bytes;
}

static PyObject *py_input_length(PyObject *self, PyObject *unused) {
    return PyLong_FromUnsignedLongLong(extism_input_length());
}

static int set_output(PyObject *data) {
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return -1;
    Block b = block_from(view.buf, (uint64_t)view.len);
    int failed = view.len && !b;
    if (!failed) extism_output_set(b, (uint64_t)view.len);
    PyBuffer_Release(&view);
    return failed ? -1 : 0;
}

static PyObject *py_output(PyObject *self, PyObject *data) {
    return set_output(data) < 0 ? NULL : Py_NewRef(Py_None);
}

/* config_get / var_get: key in (freed by the kernel), value block out (ours, freed here). */
static PyObject *lookup(Block (*get)(Block), PyObject *key) {
    if (!PyUnicode_Check(key)) return PyErr_Format(PyExc_TypeError, "key must be str, not %.100s", Py_TYPE(key)->tp_name);
    int failed = 0;
    Block k = block_from_str(key, &failed);
    if (failed) return NULL;
    Block v = get(k);
    if (!v) Py_RETURN_NONE;
    PyObject *value = bytes_from_block(v);
    extism_free(v);
    return value;
}

static PyObject *py_config_get(PyObject *self, PyObject *key) { return lookup(extism_config_get, key); }
static PyObject *py_var_get(PyObject *self, PyObject *key) { return lookup(extism_var_get, key); }

static PyObject *py_var_set(PyObject *self, PyObject *args) {
    PyObject *key;
    Py_buffer value = {0};
    if (!PyArg_ParseTuple(args, "Uz*:var_set", &key, &value)) return NULL;
    int failed = 0;
    Block k = block_from_str(key, &failed);
    Block v = 0;
    if (!failed && value.buf) {
        v = block_from(value.buf, (uint64_t)value.len);
        failed = value.len && !v;
    }
    if (value.buf) PyBuffer_Release(&value);
    if (failed) return NULL;
    extism_var_set(k, v); /* v == 0 removes the var */
    Py_RETURN_NONE;
}

static PyObject *py_log(PyObject *self, PyObject *args) {
    static void (*const levels[])(Block) = {extism_log_trace, extism_log_debug, extism_log_info, extism_log_warn, extism_log_error};
    int level;
    PyObject *message;
    if (!PyArg_ParseTuple(args, "iU:log", &level, &message)) return NULL;
    if (level < 0 || level > 4) return PyErr_Format(PyExc_ValueError, "log level must be 0..4, not %d", level);
    int failed = 0;
    Block m = block_from_str(message, &failed);
    if (failed) return NULL;
    levels[level](m);
    Py_RETURN_NONE;
}

/* http_request(request_json: str, body: bytes | None) -> (status, body) */
static PyObject *py_http_request(PyObject *self, PyObject *args) {
    PyObject *request;
    Py_buffer body = {0};
    if (!PyArg_ParseTuple(args, "Uz*:http_request", &request, &body)) return NULL;
    int failed = 0;
    Block req = block_from_str(request, &failed);
    Block b = 0;
    if (!failed && body.buf) {
        b = block_from(body.buf, (uint64_t)body.len);
        failed = body.len && !b;
    }
    if (body.buf) PyBuffer_Release(&body);
    if (failed) return NULL;
    Block response = extism_http_request(req, b);
    int32_t status = extism_http_status_code();
    PyObject *data = bytes_from_block(response);
    if (response) extism_free(response);
    if (!data) return NULL;
    return Py_BuildValue("(iN)", (int)status, data);
}

/* Kernel blocks for host-function arguments and results. */
static PyObject *py_alloc(PyObject *self, PyObject *data) {
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return NULL;
    Block b = block_from(view.buf, (uint64_t)view.len);
    int failed = view.len && !b;
    PyBuffer_Release(&view);
    return failed ? NULL : PyLong_FromUnsignedLongLong(b);
}

static PyObject *py_load(PyObject *self, PyObject *offset) {
    unsigned long long b = PyLong_AsUnsignedLongLong(offset);
    if (b == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    return bytes_from_block(b);
}

static PyObject *py_free(PyObject *self, PyObject *offset) {
    unsigned long long b = PyLong_AsUnsignedLongLong(offset);
    if (b == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (b) extism_free(b);
    Py_RETURN_NONE;
}

/* import_index(module, name) -> the index of a host function linked at build time. */
static PyObject *py_import_index(PyObject *self, PyObject *args) {
    const char *module, *name;
    if (!PyArg_ParseTuple(args, "ss:import_index", &module, &name)) return NULL;
    for (int i = 0; extism_py_imports[i].name; i++) {
        if (!strcmp(extism_py_imports[i].module, module) && !strcmp(extism_py_imports[i].name, name)) {
            return Py_BuildValue("(iii)", i, extism_py_imports[i].params, extism_py_imports[i].has_result);
        }
    }
    return PyErr_Format(PyExc_LookupError,
                        "host function %s::%s was not linked: declare it with @extism_pdk.import_fn(\"%s\", \"%s\") "
                        "using string literals, in a module of the plugin",
                        module, name, module, name);
}

/* call_import(index, *args: int) -> int | None */
static PyObject *py_call_import(PyObject *self, PyObject *args) {
    Py_ssize_t argc = PyTuple_GET_SIZE(args);
    if (argc < 1) return PyErr_Format(PyExc_TypeError, "call_import needs an index");
    int index = PyLong_AsLong(PyTuple_GET_ITEM(args, 0));
    if (index == -1 && PyErr_Occurred()) return NULL;
    int count = 0;
    while (extism_py_imports[count].name) count++;
    if (index < 0 || index >= count) return PyErr_Format(PyExc_IndexError, "no host function #%d", index);
    const ExtismPyImport *fn = &extism_py_imports[index];
    if (argc - 1 != fn->params) {
        return PyErr_Format(PyExc_TypeError, "host function %s takes %d arguments (%zd given)", fn->name, fn->params, argc - 1);
    }
    uint64_t values[fn->params ? fn->params : 1];
    for (int i = 0; i < fn->params; i++) {
        values[i] = PyLong_AsUnsignedLongLongMask(PyTuple_GET_ITEM(args, i + 1));
        if (values[i] == (uint64_t)-1 && PyErr_Occurred()) return NULL;
    }
    uint64_t result = fn->call(values);
    if (!fn->has_result) Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(result);
}

/* sources() -> {name: (filename, source bytes, is_package)} for the bootstrap importer. */
static PyObject *py_sources(PyObject *self, PyObject *unused) {
    PyObject *table = PyDict_New();
    for (const ExtismPySource *s = extism_py_sources; table && s->name; s++) {
        PyObject *entry = Py_BuildValue("(sy#O)", s->filename, s->source, (Py_ssize_t)s->size,
                                        s->is_package ? Py_True : Py_False);
        if (!entry || PyDict_SetItemString(table, s->name, entry) < 0) Py_CLEAR(table);
        Py_XDECREF(entry);
    }
    return table;
}

static PyMethodDef extism_methods[] = {
    {"input", py_input, METH_NOARGS, "input() -> bytes: the call's input."},
    {"input_length", py_input_length, METH_NOARGS, "input_length() -> int: the input's size in bytes."},
    {"output", py_output, METH_O, "output(data: bytes-like) -> None: set the call's output."},
    {"config_get", py_config_get, METH_O, "config_get(key: str) -> bytes | None"},
    {"var_get", py_var_get, METH_O, "var_get(key: str) -> bytes | None"},
    {"var_set", py_var_set, METH_VARARGS, "var_set(key: str, value: bytes-like | None) -> None (None removes)"},
    {"log", py_log, METH_VARARGS, "log(level: 0..4 (trace..error), message: str) -> None"},
    {"http_request", py_http_request, METH_VARARGS, "http_request(request_json: str, body: bytes-like | None) -> (status, body)"},
    {"alloc", py_alloc, METH_O, "alloc(data: bytes-like) -> int: a new kernel block holding data (0 when empty)."},
    {"load", py_load, METH_O, "load(block: int) -> bytes: the contents of a kernel block (0 is empty)."},
    {"free", py_free, METH_O, "free(block: int) -> None"},
    {"import_index", py_import_index, METH_VARARGS, "import_index(module, name) -> (index, params, has_result)"},
    {"call_import", py_call_import, METH_VARARGS, "call_import(index, *args: int) -> int | None"},
    {"sources", py_sources, METH_NOARGS, "sources() -> the modules bundled as source."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef extism_module = {
    PyModuleDef_HEAD_INIT, "_extism", "The Extism kernel for Python (internal: use extism_pdk).", -1, extism_methods,
};

static PyObject *PyInit__extism(void) {
    PyObject *m = PyModule_Create(&extism_module);
    if (!m) return NULL;
    ErrorType = PyErr_NewExceptionWithDoc(
        "extism_pdk.Error", "Raise to fail the call with exactly this message (no type name added).", NULL, NULL);
    if (!ErrorType || PyModule_AddObjectRef(m, "Error", ErrorType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* ---- errors ----------------------------------------------------------------------------- */

static void set_error(const char *text, Py_ssize_t n) {
    Block b = extism_alloc((uint64_t)n);
    if (b) extism_store(b, (const uint8_t *)text, (uint64_t)n);
    extism_error_set(b);
}

/* Turn the pending exception into the call's error: the message alone for extism_pdk.Error,
 * "<Type>: <message>" (or just "<Type>") otherwise. Returns 1, the failed call's result. */
static int32_t fail_with_exception(void) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    PyObject *text = value ? PyObject_Str(value) : NULL;
    PyObject *message = NULL;
    if (text && PyErr_GivenExceptionMatches(type, ErrorType)) {
        message = Py_NewRef(text);
    } else if (text) {
        PyObject *name = PyType_GetName((PyTypeObject *)type);
        if (name) message = PyUnicode_GET_LENGTH(text) ? PyUnicode_FromFormat("%U: %U", name, text) : Py_NewRef(name);
        Py_XDECREF(name);
    }
    PyObject *utf8 = message ? PyUnicode_AsEncodedString(message, "utf-8", "backslashreplace") : NULL;
    if (utf8) {
        set_error(PyBytes_AS_STRING(utf8), PyBytes_GET_SIZE(utf8));
    } else {
        static const char fallback[] = "the plugin raised an exception that cannot be shown";
        set_error(fallback, sizeof fallback - 1);
    }
    PyErr_Clear();
    Py_XDECREF(utf8);
    Py_XDECREF(message);
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    return 1;
}

/* ---- the interpreter ---------------------------------------------------------------------- */

static PyObject *entry_module; /* set once the entry module imported successfully */

static int start_interpreter(void) {
    PyImport_FrozenModules = extism_py_frozen;
    if (PyImport_AppendInittab("_extism", PyInit__extism) < 0) return -1;
    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1; /* UTF-8 everywhere: the only codec bundled for start-up */
    PyStatus status = Py_PreInitialize(&preconfig);
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;          /* no site-packages: everything is bundled */
    config.write_bytecode = 0;       /* there is no file system to write to */
    config.use_frozen_modules = 1;
    config.pathconfig_warnings = 0;
    config.module_search_paths_set = 1; /* an empty sys.path: imports come from the bundle */
    config.install_signal_handlers = 0;
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        const char *why = status.err_msg ? status.err_msg : "unknown reason";
        char text[512];
        int n = snprintf(text, sizeof text, "the Python interpreter failed to start: %s", why);
        set_error(text, n < (int)sizeof text ? n : (int)sizeof text - 1);
        return -1;
    }
    PyObject *code = Py_CompileString(bootstrap_py, "<extism bootstrap>", Py_file_input);
    PyObject *module = code ? PyImport_ExecCodeModule("_extism_bootstrap", code) : NULL;
    Py_XDECREF(code);
    if (!module) {
        fail_with_exception();
        return -1;
    }
    Py_DECREF(module);
    return 0;
}

/* Start the interpreter (once per instance) and import the entry module (until that
 * succeeds). On failure the call's error is set and 0 returned. */
static int ready(void) {
    static enum { NOT_STARTED, RUNNING, BROKEN } interpreter = NOT_STARTED;
    if (entry_module) return 1;
    if (interpreter == NOT_STARTED) interpreter = start_interpreter() == 0 ? RUNNING : BROKEN;
    else if (interpreter == BROKEN) {
        static const char text[] = "the Python interpreter failed to start (the first call's error says why)";
        set_error(text, sizeof text - 1);
    }
    if (interpreter == BROKEN) return 0;
    entry_module = PyImport_ImportModule(extism_py_entry);
    if (!entry_module) {
        fail_with_exception();
        return 0;
    }
    return 1;
}

/* Run the entry module's function `name`. Its return value, unless None, is the output
 * (str as UTF-8, or any bytes-like object). 0 = success, 1 = failure with the error set. */
int32_t extism_py_call(const char *name) {
    if (!ready()) return 1;
    PyObject *function = PyObject_GetAttrString(entry_module, name);
    if (!function) return fail_with_exception();
    PyObject *result = PyObject_CallNoArgs(function);
    Py_DECREF(function);
    if (!result) return fail_with_exception();
    int failed = 0;
    if (PyUnicode_Check(result)) {
        Py_ssize_t n;
        const char *text = PyUnicode_AsUTF8AndSize(result, &n);
        Block b = text ? block_from(text, (uint64_t)n) : 0;
        failed = !text || (n && !b);
        if (!failed) extism_output_set(b, (uint64_t)n);
    } else if (PyObject_CheckBuffer(result)) {
        failed = set_output(result) < 0;
    } else if (result != Py_None) {
        PyErr_Format(PyExc_TypeError, "%s() returned %.100s; return str, bytes or None, or call extism_pdk.output()",
                     name, Py_TYPE(result)->tp_name);
        failed = 1;
    }
    Py_DECREF(result);
    return failed ? fail_with_exception() : 0;
}
