"""The `skybinder` command: run a local binder, launch repositories."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import typer
from fastapi import FastAPI
from rich.console import Console
from rich.text import Text

from skybinder.cli_check import check
from skybinder.cli_events import app as events_app
from skybinder.cli_images import app as images_app
from skybinder.cli_proxy import proxy_command
from skybinder.cli_sessions import app as sessions_app
from skybinder.client import events, local_token, session_link, to_spec
from skybinder.config import ConfigFileError, default_data_dir, load_local_settings
from skybinder.domain.errors import SkybinderError

if TYPE_CHECKING:
    from skybinder.api.app import AppOptions
    from skybinder.bootstrap import LocalBinder

app = typer.Typer(
    help="A Binder for your own machine and your own AWS account.", no_args_is_help=True
)
console = Console()
app.add_typer(sessions_app, name="sessions")
app.add_typer(images_app, name="images")
app.add_typer(events_app, name="events")
app.command()(check)
app.command(name="proxy")(proxy_command)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8585, help="Port to listen on."),
    data_dir: Path = typer.Option(None, help="Where sessions, builds and environments live."),
    idle_timeout: int = typer.Option(600, help="Seconds of inactivity before a session ends."),
    max_sessions: int = typer.Option(20, help="Sessions running at once (0: no limit)."),
    config: Path = typer.Option(None, help="TOML file: GitHub token, operator controls."),
    rate_limit: int = typer.Option(0, help="Launches per client address per hour (0: off)."),
    token: str = typer.Option(
        None, help="The access token (default: a new random one); '' turns the check off."
    ),
    allow_origin: list[str] = typer.Option(
        [], help="A site that may call /build from its pages (repeatable; '*': any site)."
    ),
    allow_host: list[str] = typer.Option(
        [], help="A name this binder is reached by, besides localhost, IPs and its hostname."
    ),
    pass_env: list[str] = typer.Option(
        [], help="An environment variable repository code may see (repeatable)."
    ),
    max_builds: int = typer.Option(2, help="Builds running at once (0: no cap)."),
    public_url: str = typer.Option(
        "", help="The binder's URL as users reach it, for session URLs (default: as asked)."
    ),
    containment: str = typer.Option(
        "auto", help="How builds and sessions are contained: auto, bwrap, unshare or group."
    ),
) -> None:
    """Run the local binder: the BinderHub API, launch pages and sessions on HOST:PORT."""
    from skybinder.bootstrap import build_local

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness probe
    try:
        settings = load_local_settings(
            config,
            host=host,
            port=port,
            data_dir=data_dir or default_data_dir(),
            idle_timeout=idle_timeout,
            max_sessions=max_sessions,
            rate_limit=rate_limit,
            max_builds=max_builds,
            allow_origins=allow_origin,
            allow_hosts=allow_host,
            pass_env=pass_env,
            public_url=public_url,
            containment=containment,
        )
        local = build_local(settings)
    except (ConfigFileError, SkybinderError, ValueError) as err:
        message = err.message if isinstance(err, SkybinderError) else str(err)
        console.print(Text(message, style="red"))  # as text: the message may hold "[...]"
        raise typer.Exit(2) from err
    _serve_app(local, token)


def _serve_app(local: LocalBinder, token: str | None) -> None:
    """Serve a built local binder until Ctrl-C (or SIGTERM), then close it, however the
    servers stopped (local_server.py)."""
    from skybinder.adapters.local.private_files import access_token
    from skybinder.api.app import create_app
    from skybinder.example import materialize_example
    from skybinder.local_server import serve_local

    settings = local.settings
    example = materialize_example(settings.data_dir)
    secret = access_token(settings.data_dir, token)
    _warn_open(secret, list(settings.allow_origins))
    options = _app_options(local, secret)
    web = create_app(local.binder, options)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        local.start_reaper()
        yield

    web.router.lifespan_context = lifespan
    serve_local(
        web,
        local.store,
        settings,
        lambda: _banner(local, example, secret),
        closing=options.closing,
        cleanup=local.close,
    )


def _banner(local: LocalBinder, example: Path, secret: str | None) -> None:
    from skybinder.adapters.local.containment import BUBBLEWRAP
    from skybinder.example import launch_path

    settings = local.settings
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    with_token = f"?token={secret}" if secret else ""
    console.print(f"[bold]skybinder[/] is running at {base}/  (data in {settings.data_dir})")
    console.print(f"Builds and sessions are contained by {local.containment.name}.")
    if local.containment.name != BUBBLEWRAP:
        console.print("  (with bubblewrap, repositories would not see the data directory)")
    console.print(f"Open it:  {base}/{with_token}", soft_wrap=True, highlight=False)
    console.print("Launch the example repository:")
    console.print(f"  {base}/{launch_path(example)}{with_token}", soft_wrap=True, highlight=False)
    console.print(f"  or from a terminal:  skybinder launch {example}")


def _app_options(local: LocalBinder, token: str | None) -> AppOptions:
    """The app's options for a local binder: its admin token (new at every start), and the
    guards of the local threat model (README) with its access token."""
    from skybinder.api.access import AccessPolicy
    from skybinder.api.admin import bearer_auth, write_admin_token
    from skybinder.api.app import AppOptions
    from skybinder.bootstrap import served_names

    settings = local.settings
    access = AccessPolicy.local(
        token,
        port=settings.port,
        allow_origins=settings.allow_origins,
        hosts=served_names(settings),
    )
    return AppOptions(
        keepalive=settings.keepalive,
        health_checks=local.health_checks(),
        health_info=local.health_info(),
        rate_limit=local.rate_limit,
        admin_auth=bearer_auth(write_admin_token(settings.data_dir)),
        access=access,
        limiter=local.limiter,
    )


def _warn_open(token: str | None, origins: list[str]) -> None:
    """Say loudly when the operator turned a guard off: anyone who can reach the binder, or
    any site its users visit, could then run code on this machine."""
    if token is None:
        console.print(
            "[bold red]Warning:[/] the access token is off (--token ''): anyone who can reach "
            "this binder can run code on this machine as you. Keep it behind authentication."
        )
    if "*" in origins:
        console.print(
            "[bold red]Warning:[/] --allow-origin '*': the pages of any site can call /build."
        )


@app.command()
def launch(
    repo: str = typer.Argument(..., help="Repository URL, local path, or <provider>/<spec>."),
    ref: str = typer.Option("HEAD", help="Branch, tag or commit to launch."),
    binder: str = typer.Option("http://127.0.0.1:8585", help="The binder to launch on."),
    build_only: bool = typer.Option(False, help="Build the image, start no server."),
    token: str = typer.Option(
        None, help="The binder's access token (default: <data-dir>/token, for a local binder)."
    ),
    data_dir: Path = typer.Option(None, help="The local binder's data directory."),
) -> None:
    """Launch REPO on a BinderHub-compatible binder and print the session's URL."""
    spec = to_spec(repo, ref)
    console.print(f"Launching [bold]{spec}[/] on {binder}")
    secret = token if token is not None else local_token(binder, data_dir or default_data_dir())
    last: dict[str, object] = {}
    with httpx.Client() as client, console.status("Waiting...") as status:
        try:
            for event in events(client, binder, spec, build_only=build_only, token=secret):
                last = event
                phase = str(event.get("phase", "")).lower()
                message = str(event.get("message", "")).rstrip("\n")
                status.update(f"[bold]{phase}[/] {message[:80]}")
                if message and phase not in {"ready", "failed"}:
                    console.print(Text(message, style="dim"))
        except httpx.HTTPError as err:
            console.print(f"[red]Could not reach {binder}: {err}[/]")
            raise typer.Exit(2) from err
    _report(last, build_only)


def _report(event: dict[str, object], build_only: bool) -> None:
    phase = str(event.get("phase", "")).lower()
    if phase == "ready" and build_only:
        console.print(f"[green]Built[/] {event.get('imageName')}")
    elif phase == "ready":
        console.print("[green]Ready.[/] Open your session:")
        console.print(session_link(event, "lab"), soft_wrap=True, highlight=False)
    else:
        message = str(event.get("message", "the stream ended before the session was ready"))
        console.print(f"[red]Launch failed[/] ({event.get('status_code', '?')}): {message}")
        raise typer.Exit(1)
