"""Running the proxy: on its own (`skybinder proxy`, the AWS service) or beside the binder's
app in one event loop (`skybinder serve`, one port for both)."""

from __future__ import annotations

import logging
import resource
import socket

from aiohttp import web

from skybinder.proxy.app import SessionProxy


async def start(proxy: SessionProxy, host: str, port: int) -> web.AppRunner:
    """Start serving `proxy` on host:port in the running loop; `stop` it with the runner."""
    runner = web.AppRunner(
        proxy.app(),
        handle_signals=False,
        access_log=None,
        shutdown_timeout=proxy.config.shutdown_timeout,
    )
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    return runner


async def stop(runner: web.AppRunner) -> None:
    """Stop accepting, close WebSockets with 1001, let open requests finish (up to the
    shutdown timeout), flush activity to the store, release everything."""
    await runner.cleanup()


def run(proxy: SessionProxy, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully (as `stop` does)."""
    raise_open_file_limit()
    logging.getLogger("skybinder.proxy").info(
        '{"event": "listening", "host": "%s", "port": %d}', host, port
    )
    web.run_app(
        proxy.app(),
        host=host,
        port=port,
        shutdown_timeout=proxy.config.shutdown_timeout,
        access_log=None,
        print=None,
        reuse_address=True,
        handle_signals=True,
    )


def raise_open_file_limit() -> int:
    """Let this process hold as many sockets as the system allows it (each proxied connection
    takes two); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def can_bind(host: str, port: int) -> bool:
    """True when host:port is free to listen on (checked before sessions are touched)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
