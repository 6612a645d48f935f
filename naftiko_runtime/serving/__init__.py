"""Serving: `launch` and `start` run `serve` (load, compile, serve); `assemble` turns a
model, its bindings and `options` into a Runtime (`operations`, `precompiled`, `tracing`
help it); `reload` swaps a new one in; `process`, `servers`, `sockets` and `memory` are the
process around it; `offline` builds one to read and never call."""
