"""The MCP adapter, over the official SDK.

`build` turns the model into endpoints: each an `endpoint.McpServerSet`, whose registries
(`tools`, `resources`, `prompts`) answer through the SDK's server, with `results` turning
an operation's result into MCP content. An endpoint is served over Streamable HTTP (`http`,
with `fast` for a 2026-07-28 `tools/call` and `sessions` bounding handshake-era sessions)
or over stdio (`stdio`). `sdk_surface` lists the SDK's private names the adapter relies on.
"""
