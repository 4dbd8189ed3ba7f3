"""The session proxy: routes `/s/<session id>/...` (HTTP of any method, streamed both ways,
and WebSockets) to the address the session store holds for the session.

One implementation for both modes: `skybinder serve` runs it in front of the local binder
(one port for the binder and its sessions), `skybinder proxy` runs it on its own, as the
AWS deployment does, reading DynamoDB instead of SQLite.
"""

from skybinder.adapters.aws.names import PROXY_HEALTH_PATH as HEALTH_PATH
from skybinder.proxy.app import SessionProxy
from skybinder.proxy.config import ProxyConfig

__all__ = ["HEALTH_PATH", "ProxyConfig", "SessionProxy"]
