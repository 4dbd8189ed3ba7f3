"""`python -m skybinder.proxy`: the session proxy on its own, with only the standard library's
argument parser. The AWS deployment starts it this way from the functions' dependency package,
which leaves out the command line's toolkit; `skybinder proxy` runs the same `main`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(
        prog="python -m skybinder.proxy",
        description="Run the session proxy: /s/<session id>/... to each session's server.",
    )
    made.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
    made.add_argument("--port", type=int, default=8888, help="Port to listen on.")
    made.add_argument("--data-dir", type=Path, help="A local binder's data directory (its store).")
    made.add_argument("--route-ttl", type=float, default=5.0, help="Seconds a route is cached.")
    made.add_argument(
        "--activity-interval",
        type=float,
        default=60.0,
        help="Seconds between writes of a session's activity to the store.",
    )
    made.add_argument(
        "--trust-forwarded",
        action="store_true",
        help="Keep X-Forwarded-* from a load balancer in front (append the peer).",
    )
    made.add_argument("--access-log", action="store_true", help="Log every proxied request.")
    return made


def main(argv: Sequence[str] | None = None) -> None:
    """Parse `argv` and serve until SIGINT or SIGTERM. The store is DynamoDB when
    SKYBINDER_TABLE_NAME names a table (credentials and region from the environment, in AWS
    the task's role), else the SQLite store of `--data-dir` (a local binder's)."""
    args = parser().parse_args(argv)
    serve(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        route_ttl=args.route_ttl,
        activity_interval=args.activity_interval,
        trust_forwarded=args.trust_forwarded,
        access_log=args.access_log,
    )


def serve(
    *,
    host: str,
    port: int,
    data_dir: Path | None,
    route_ttl: float,
    activity_interval: float,
    trust_forwarded: bool,
    access_log: bool,
) -> None:
    from skybinder.bootstrap_proxy import proxy_store
    from skybinder.config import default_data_dir
    from skybinder.proxy import ProxyConfig, SessionProxy
    from skybinder.proxy import server as proxy_server
    from skybinder.proxy.logs import JsonLines

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    store = proxy_store(data_dir or default_data_dir())
    config = ProxyConfig(
        route_ttl=route_ttl,
        activity_interval=activity_interval,
        trust_forwarded=trust_forwarded,
        access_log=access_log,
    )
    try:
        proxy_server.run(SessionProxy(store.route, store.record_activity, config), host, port)
    finally:
        store.close()


if __name__ == "__main__":
    main()
