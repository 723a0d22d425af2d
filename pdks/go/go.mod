module extism-platform.dev/pdk

go 1.24
