"""The Extism host: plugins, grants, host functions, pools."""
