"""The client seam to upstream HTTP APIs: `base` (the protocol every client fits), `errors`
(their failures, worded once) and `deadlines` (their total bound), the clients (`h1`,
`aiohttp`, `pyreqwest`), `pool` (a bounded client per namespace) and `memory` (an
in-process test double)."""
