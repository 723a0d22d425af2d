"""The baseline of `benchmarks.servers`: the Python `mcp` SDK's own server with a no-op echo tool
(what a hand-written Python MCP server costs), over stdio."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("bare")


@server.tool()
def echo(text: str) -> dict[str, str]:
    """Return the input text."""
    return {"text": text}


if __name__ == "__main__":
    server.run()
