"""The run side of extism-platform: the Extism host, the MCP server and the command-line tools."""

__version__ = "0.1.0"
