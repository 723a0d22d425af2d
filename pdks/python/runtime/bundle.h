/* The tables every generated bundle defines (hatch_extism/toolchains/python.py writes it) and
 * the runtime (glue.c) reads. Include after <Python.h>. */
#ifndef EXTISM_PY_BUNDLE_H
#define EXTISM_PY_BUNDLE_H

#include <stdint.h>

/* One module shipped as source: the plugin's own modules and `extism_pdk`. */
typedef struct {
    const char *name;     /* dotted module name */
    const char *filename; /* shown in tracebacks, e.g. "plugin.py" */
    const unsigned char *source;
    uint32_t size;
    int is_package;
} ExtismPySource;

/* One host function the plugin imports: `params` i64 arguments, an i64 result if `has_result`
 * (`call` returns 0 when it has none). */
typedef struct {
    const char *module;
    const char *name;
    int params;
    int has_result;
    uint64_t (*call)(const uint64_t *args);
} ExtismPyImport;

extern const char extism_py_entry[];              /* the module whose functions are exported */
extern const struct _frozen extism_py_frozen[];  /* the bundled stdlib as bytecode; {0}-terminated */
extern const ExtismPySource extism_py_sources[]; /* {0}-terminated */
extern const ExtismPyImport extism_py_imports[]; /* {0}-terminated */

/* What each generated export calls: run the entry module's function `name`. */
int32_t extism_py_call(const char *name);

#endif
