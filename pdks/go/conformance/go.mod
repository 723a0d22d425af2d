module extism-platform.dev/pdk/conformance

go 1.24

require extism-platform.dev/pdk v0.0.0

replace extism-platform.dev/pdk => ../
