"""The MCP adapter: Streamable HTTP and stdio servers over the official SDK, and its fast path."""
