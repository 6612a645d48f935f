"""ServeOptions: how an instance serves, whatever the specs say (`serve`'s flags take their
defaults from here, so a library caller and the command line start from the same values);
and Launch: the rest of what `serve` is asked, for `launch`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from naftiko_runtime.engine.scripting.base import ScriptSettings
from naftiko_runtime.upstream.base import Timeouts


@dataclass
class ServeOptions:
    host: str | None = None
    port_map: dict[int, int] = field(default_factory=dict)
    upstreams: dict[str, str] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    simulate: str = "never"  # never | auto | always
    access_log: bool = False
    http_client: str = "h1"
    control_port: int | None = None  # `--control PORT`: a control adapter on loopback
    scripting: ScriptSettings = field(default_factory=ScriptSettings)
    grace: float | None = None  # `--grace`: seconds in-flight requests get after SIGTERM
    drain_delay: float = 0.0  # `--drain-delay`: seconds still accepting, readiness 503
    mcp_stateless: bool = False  # `--mcp-stateless` (implied by `--workers` above 1)
    control_host: str = "127.0.0.1"  # `--control HOST:PORT`
    trace_sampling: float | None = None  # `--trace-sampling`: None keeps the spec's ratio
    header_timeout: float = 10.0  # `--header-timeout`: seconds a request's headers may take
    body_timeout: float = 30.0  # `--body-timeout`: seconds its body may take after them
    mcp_session_idle: float = 300.0  # `--mcp-session-idle`: seconds before a session closes
    mcp_sessions_per_client: int = 64  # `--mcp-sessions-per-client`: open sessions per peer
    max_header_bytes: int = 64 * 1024  # `--max-header-size`
    max_file_bytes: int = 10 * 1024 * 1024  # `--max-file-size`: a served file, a skill download
    policy_file: str | None = None  # `--policies`: the operator's traffic policies, reloaded

    @property
    def grace_seconds(self) -> float:
        """By default a request already running may take its whole `--timeout` to finish."""
        return self.grace if self.grace is not None else max(self.timeouts.total, 5.0)


@dataclass(frozen=True)
class Launch:
    """What `serve` was asked, its flags read and nothing done yet. `options` makes the
    ServeOptions, checking the flags (UsageError), once the environment is read: a spec's
    errors are reported before a flag's."""

    paths: Sequence[str]
    options: Callable[[], ServeOptions] = ServeOptions
    env_file: str | None = None  # `--env-file`: KEY=value lines under the environment
    policies: str | None = None  # `--policies`
    log_format: str = "text"  # `--log-format`
    stdio: bool = False  # `--stdio`: MCP over stdin/stdout instead of the ports
    workers: int = 1  # `--workers`
    watch: bool = False  # `--watch`: reload when a spec changes
