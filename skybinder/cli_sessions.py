"""`skybinder sessions`: list and stop the sessions of a binder (local or AWS)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.table import Table

from skybinder.admin_client import AdminClientError, call
from skybinder.config import default_data_dir

app = typer.Typer(help="Sessions of a binder: list them, stop one.", no_args_is_help=True)
console = Console()
BINDER = typer.Option("http://127.0.0.1:8585", help="The binder (its admin endpoint in AWS).")
DATA_DIR = typer.Option(None, help="A local binder's --data-dir (for its admin token).")
REGION = typer.Option(None, help="AWS region of the binder's API, if not in its URL.")


def _call(method: str, binder: str, path: str, data_dir: Path | None, region: str | None) -> object:
    try:
        with httpx.Client(timeout=30) as client:
            return call(
                client, method, binder, path, data_dir=data_dir or default_data_dir(), region=region
            )
    except AdminClientError as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(1) from err


def _when(epoch: object) -> str:
    if not isinstance(epoch, int | float) or not epoch:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


@app.command("list")
def list_(
    binder: str = BINDER,
    ended: bool = typer.Option(False, help="Include sessions that have ended."),
    data_dir: Path = DATA_DIR,
    region: str = REGION,
) -> None:
    """List the binder's sessions, oldest first."""
    path = "/api/admin/sessions" + ("?ended=true" if ended else "")
    sessions = _call("GET", binder, path, data_dir, region)
    table = Table("id", "state", "repository", "ref", "started (UTC)", "reason")
    for s in sessions if isinstance(sessions, list) else []:
        table.add_row(
            s["id"],
            s["state"],
            s["repo_url"],
            str(s["ref"])[:12],
            _when(s["created_at"]),
            s["reason"],
        )
    console.print(table)


@app.command()
def stop(
    session_id: str = typer.Argument(..., help="The session to stop."),
    binder: str = BINDER,
    data_dir: Path = DATA_DIR,
    region: str = REGION,
) -> None:
    """Stop a session; it ends `stopped` with the reason "stopped by an operator"."""
    result = _call("POST", binder, f"/api/admin/sessions/{session_id}/stop", data_dir, region)
    state = result.get("state") if isinstance(result, dict) else "?"
    console.print(f"Session {session_id}: {state}")
