"""The runtime's own REST adapter (the bench spec, mapping on) served by granian instead of
uvicorn: the ASGI-server comparison. Compiled exactly as `serve` compiles it; only the HTTP
server differs (granian's Rust HTTP/1.1 on uvloop, one worker).

    UPSTREAM=http://127.0.0.1:PORT BENCH_TOKEN=... python -m bench.peers.granian_rest PORT
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parent.parent / "capabilities" / "bench-jobs.yaml"


def app() -> Any:
    from naftiko_runtime.capability.load import load_paths
    from naftiko_runtime.serving.assemble import compile_runtime
    from naftiko_runtime.serving.options import ServeOptions

    capabilities = load_paths([SPEC]).capabilities
    options = ServeOptions(upstreams={"jobs-api": os.environ["UPSTREAM"]})
    runtime = compile_runtime(capabilities, dict(os.environ), options)
    return runtime.rest_apps[8080]


if __name__ == "__main__":
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    Granian(
        "bench.peers.granian_rest:app",
        factory=True,
        address="127.0.0.1",
        port=int(sys.argv[1]),
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        workers=1,
        log_level=LogLevels.warning,
    ).serve()
