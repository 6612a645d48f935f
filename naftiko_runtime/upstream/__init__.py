"""The client seam to upstream HTTP APIs: `base` (the protocol every client fits), `errors`
(their failures, worded once), the clients (`h1`, `aiohttp`, `pyreqwest`), `pool` (a client
per namespace) and `memory` (an in-process test double)."""
