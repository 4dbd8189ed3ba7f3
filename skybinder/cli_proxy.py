"""`skybinder proxy`: the session proxy on its own, in front of a binder's sessions.

In AWS it runs as an ECS service behind the load balancer (started as `python -m
skybinder.proxy`, the same code) and reads the DynamoDB table named by SKYBINDER_TABLE_NAME
(with the task's AWS credentials and region); elsewhere it reads the SQLite store of a local
binder's data directory.
"""

from __future__ import annotations

from pathlib import Path

import typer


def proxy_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8888, help="Port to listen on."),
    data_dir: Path = typer.Option(None, help="A local binder's data directory (its store)."),
    route_ttl: float = typer.Option(5.0, help="Seconds a session's route is cached."),
    activity_interval: float = typer.Option(
        60.0, help="Seconds between writes of a session's activity to the store."
    ),
    trust_forwarded: bool = typer.Option(
        False, help="Keep X-Forwarded-* from a load balancer in front (append the peer)."
    ),
    access_log: bool = typer.Option(False, help="Log every proxied request."),
) -> None:
    """Run the session proxy: /s/<session id>/... to each session's server."""
    from skybinder.proxy.__main__ import serve

    serve(
        host=host,
        port=port,
        data_dir=data_dir,
        route_ttl=route_ttl,
        activity_interval=activity_interval,
        trust_forwarded=trust_forwarded,
        access_log=access_log,
    )
