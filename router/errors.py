"""The router's error tree.

    RouterError
     ├── ConfigError              the user must act: a config field path, the bad value, what was expected
     ├── StatsMergeError          two stats snapshots cannot be combined (different histogram bins)
     └── UpstreamError            a model server failed a call; the data port answers for it
          ├── UpstreamConnectError     refused, unreachable or closed before answering -> 502
          ├── UpstreamTimeout          no complete answer within the timeout -> 504
          └── UpstreamProtocolError    answered with something that is not HTTP/1.x -> 502
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "RouterError",
    "StatsMergeError",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamTimeout",
]


class RouterError(Exception):
    """Root of every error the router raises on purpose."""


class ConfigError(RouterError):
    """A router config is invalid; `path` names the field (camelCase, as written on the wire)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class StatsMergeError(RouterError):
    """Snapshots disagree on something that must match to be summed (e.g. histogram edges)."""


class UpstreamError(RouterError):
    """A call to a model server failed; `kind` is the error counter it lands in."""

    kind = "connect"


class UpstreamConnectError(UpstreamError):
    kind = "connect"


class UpstreamTimeout(UpstreamError):
    kind = "timeout"


class UpstreamProtocolError(UpstreamError):
    kind = "protocol"
