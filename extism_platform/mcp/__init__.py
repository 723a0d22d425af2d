"""The MCP side: plugins' exports as MCP tools, over stdio or streamable HTTP."""
