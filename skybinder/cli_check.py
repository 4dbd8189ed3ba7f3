"""`skybinder check <binder URL>`: the smoke test to run after `pulumi up` (or on any binder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.text import Text

from skybinder.check import DEFAULT_SPEC, Checker, CheckOptions, Step
from skybinder.config import default_data_dir

console = Console()
MARKS = {"pass": ("PASS", "green"), "fail": ("FAIL", "red"), "skip": ("SKIP", "yellow")}
DATA_DIR = typer.Option(None, help="A local binder's data directory (for its admin token).")
REGION = typer.Option(None, help="AWS region of the admin API, if not in its URL.")


def check(
    binder: str = typer.Argument(..., help="The binder's URL, e.g. the stack's binder_url."),
    token: str = typer.Option("", help="The binder's access token, if it asks for one."),
    spec: str = typer.Option(DEFAULT_SPEC, help="What to launch, as <provider>/<spec>."),
    admin_url: str = typer.Option(
        "", help="Where the admin API answers (a deployment's api_url); default: BINDER."
    ),
    data_dir: Path | None = DATA_DIR,
    region: str | None = REGION,
) -> None:
    """Check a binder end to end: health, versions, a launch, code in a kernel, a stop."""
    options = CheckOptions(
        binder_url=binder,
        spec=spec,
        token=token,
        admin_url=admin_url,
        data_dir=data_dir or default_data_dir(),
        region=region,
    )
    console.print(f"Checking [bold]{binder}[/] with {spec}")
    with httpx.Client(timeout=httpx.Timeout(30.0)) as http:
        steps = Checker(options, http, progress=_progress).run()
    for step in steps:
        _print(step)
    failed = [step.name for step in steps if step.outcome == "fail"]
    if failed:
        console.print(f"[red]The check failed[/]: {', '.join(failed)}.")
        raise typer.Exit(1)
    console.print("[green]The binder works.[/]")


def _progress(step: str, event: dict[str, Any]) -> None:
    phase = str(event.get("phase", "")).lower()
    message = str(event.get("message", "")).strip().splitlines()
    if phase and message:
        console.print(Text(f"  {phase}: {message[-1][:100]}", style="dim"))


def _print(step: Step) -> None:
    mark, colour = MARKS[step.outcome]
    line = Text()
    line.append(f"{mark} ", style=f"bold {colour}")
    line.append(f"{step.name:<9}{step.seconds:>8.2f} s  ")
    line.append(step.detail)
    console.print(line, soft_wrap=True)
