"""`skybinder events`: declare, list, show, report on and close a binder's events (workshops)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from skybinder.admin_client import LOCAL_HOSTS, AdminClientError, call
from skybinder.config import default_data_dir
from skybinder.domain.model import CapacityPolicy

app = typer.Typer(
    help="Events: workshops with seats, a time window and a budget.", no_args_is_help=True
)
console = Console()
BinderUrl = Annotated[str, typer.Option("--binder", help="The binder (its admin endpoint in AWS).")]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="A local binder's --data-dir (for its token).")
]
Region = Annotated[
    str | None, typer.Option("--region", help="AWS region of the binder's API, if not in its URL.")
]
Slug = Annotated[str, typer.Argument(help="The event's name in its link: /e/<slug>.")]
DEFAULT_BINDER = "http://127.0.0.1:8585"
CSV_FIELDS = (
    "id", "state", "admitted", "reason", "status_code", "capacity", "created_at", "launched_at",
    "ended_at", "minutes", "cost_usd", "reserved_usd", "interruptions", "warm", "client_ip",
)  # fmt: skip


@contextmanager
def _client(ctx: typer.Context) -> Iterator[httpx.Client]:
    """The HTTP client a caller put in the context (tests), or a new one for this command."""
    if isinstance(ctx.obj, httpx.Client):
        yield ctx.obj
        return
    with httpx.Client(timeout=60) as client:
        yield client


def _call(
    ctx: typer.Context,
    method: str,
    path: str,
    where: tuple[str, Path | None, str | None],
    body: dict[str, object] | None = None,
) -> object:
    binder, data_dir, region = where
    try:
        with _client(ctx) as client:
            return call(
                client,
                method,
                binder,
                path,
                data_dir=data_dir or default_data_dir(),
                region=region,
                body=body,
            )
    except AdminClientError as err:
        console.print(Text(str(err), style="red"))  # as text: a message may hold "[...]"
        raise typer.Exit(1) from err


def _path(slug: str, rest: str = "") -> str:
    return f"/api/admin/events/{quote(slug, safe='')}{rest}"


@app.command()
def create(
    ctx: typer.Context,
    slug: Slug,
    title: Annotated[str, typer.Option(help="What attendees see as the event's name.")],
    provider: Annotated[str, typer.Option(help="Repository provider, as in /build: gh, gl...")],
    spec: Annotated[str, typer.Option(help="Repository spec, as in /build: org/repo/ref.")],
    starts_at: Annotated[str, typer.Option(help="Start, ISO 8601 (UTC if no zone).")],
    ends_at: Annotated[str, typer.Option(help="End, ISO 8601 (UTC if no zone).")],
    seats: Annotated[int, typer.Option(help="Sessions that may run at once.")],
    budget_usd: Annotated[float, typer.Option(help="The most the event may spend, in USD.")],
    capacity: Annotated[CapacityPolicy | None, typer.Option(help="Where sessions run.")] = None,
    cpu: Annotated[float | None, typer.Option(help="vCPUs per session (default 1).")] = None,
    memory_gb: Annotated[float | None, typer.Option(help="GB per session (default 2).")] = None,
    max_minutes: Annotated[int | None, typer.Option(help="Longest session (default 240).")] = None,
    access_code: Annotated[
        str | None,
        typer.Option(help="Code attendees must give.", envvar="SKYBINDER_EVENT_CODE"),
    ] = None,
    warm_pool: Annotated[int | None, typer.Option(help="Sessions started ahead.")] = None,
    binder: BinderUrl = DEFAULT_BINDER,
    data_dir: DataDir = None,
    region: Region = None,
) -> None:
    """Declare an event: its repository is pinned and its image built before it starts."""
    given = {
        "slug": slug, "title": title, "provider": provider, "spec": spec,
        "starts_at": starts_at, "ends_at": ends_at, "seats": seats, "budget_usd": budget_usd,
        "capacity": None if capacity is None else capacity.value, "cpu": cpu,
        "memory_gb": memory_gb, "max_minutes": max_minutes, "access_code": access_code,
        "warm_pool": warm_pool,
    }  # fmt: skip
    # Options left out are not sent, so the binder's defaults apply.
    body = {key: value for key, value in given.items() if value is not None}
    event = _call(ctx, "POST", "/api/admin/events", (binder, data_dir, region), body)
    console.print(f"Event [bold]{slug}[/] created.")
    _print_event(event if isinstance(event, dict) else {}, binder)


@app.command("list")
def list_(
    ctx: typer.Context,
    binder: BinderUrl = DEFAULT_BINDER,
    data_dir: DataDir = None,
    region: Region = None,
) -> None:
    """List the binder's events, by start time."""
    events = _call(ctx, "GET", "/api/admin/events", (binder, data_dir, region))
    table = Table("slug", "title", "phase", "starts (UTC)", "ends (UTC)", "seats", "spent / budget")
    for e in events if isinstance(events, list) else []:
        table.add_row(
            e["slug"],
            Text(str(e["title"])),
            e["phase"],
            _short(e["starts_at"]),
            _short(e["ends_at"]),
            f"{e['seats_in_use']}/{e['seats']}",
            f"{_usd(e['spent_usd'])} / {_usd(e['budget_usd'])}",
        )
    console.print(table)


@app.command()
def show(
    ctx: typer.Context,
    slug: Slug,
    binder: BinderUrl = DEFAULT_BINDER,
    data_dir: DataDir = None,
    region: Region = None,
) -> None:
    """Show an event: its window, seats in use, money spent, reserved and remaining."""
    event = _call(ctx, "GET", _path(slug), (binder, data_dir, region))
    _print_event(event if isinstance(event, dict) else {}, binder)


@app.command()
def report(
    ctx: typer.Context,
    slug: Slug,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the sessions to this CSV file.")
    ] = None,
    binder: BinderUrl = DEFAULT_BINDER,
    data_dir: DataDir = None,
    region: Region = None,
) -> None:
    """Report on an event: every session (admitted and refused) and the totals."""
    where = (binder, data_dir, region)
    event = _call(ctx, "GET", _path(slug), where)
    rows = _call(ctx, "GET", _path(slug, "/sessions"), where)
    sessions = rows if isinstance(rows, list) else []
    table = Table("id", "state", "capacity", "launched (UTC)", "minutes", "cost", "interr.")
    for s in sessions:
        if s["admitted"]:
            table.add_row(
                s["id"],
                s["state"],
                s["capacity"] or "-",
                _short(s["launched_at"]),
                f"{s['minutes']:.1f}",
                _usd(s["cost_usd"], 4),
                str(s["interruptions"]),
            )
    console.print(table)
    _print_totals(event if isinstance(event, dict) else {}, sessions)
    if csv_file is not None:
        _write_csv(csv_file, sessions)
        console.print(f"Wrote {len(sessions)} sessions to {csv_file}")


@app.command()
def close(
    ctx: typer.Context,
    slug: Slug,
    binder: BinderUrl = DEFAULT_BINDER,
    data_dir: DataDir = None,
    region: Region = None,
) -> None:
    """Close an event now: nobody is admitted any more and its sessions are stopped."""
    event = _call(ctx, "POST", _path(slug, "/close"), (binder, data_dir, region))
    console.print(f"Event [bold]{slug}[/] closed; its sessions are stopping.")
    _print_event(event if isinstance(event, dict) else {}, binder)


def _print_event(e: dict[str, object], binder: str) -> None:
    table = Table(show_header=False, box=None)
    rows = [
        ("title", e.get("title")),
        ("repository", f"{e.get('provider')}/{e.get('resolved_spec') or e.get('spec')}"),
        ("window (UTC)", f"{_short(e.get('starts_at'))} to {_short(e.get('ends_at'))}"),
        ("phase", e.get("phase")),
        ("seats in use", f"{e.get('seats_in_use')} of {e.get('seats')}"),
        ("budget", _usd(e.get("budget_usd"))),
        ("spent", _usd(e.get("spent_usd"), 4)),
        ("reserved", _usd(e.get("reserved_usd"), 4)),
        ("remaining", _usd(e.get("remaining_usd"), 4)),
        ("sessions", f"{e.get('sessions')} admitted, {e.get('interruptions')} interruptions"),
        ("per session", f"{e.get('cpu')} vCPU, {e.get('memory_gb')} GB, {e.get('capacity')}"),
        ("image prebuild", e.get("prebuild") or "-"),
        ("attendee page", _attendee_link(binder, str(e.get("slug", "")))),
    ]
    for name, value in rows:
        table.add_row(name, Text(str(value)))
    console.print(table)


def _print_totals(e: dict[str, object], sessions: list[dict[str, object]]) -> None:
    admitted = [s for s in sessions if s["admitted"]]
    refused = Counter(str(s["reason"]) for s in sessions if not s["admitted"])
    minutes = sum(float(str(s["minutes"])) for s in admitted)
    console.print(
        f"{len(admitted)} admitted, {sum(refused.values())} refused, {minutes:.1f} session "
        f"minutes; spent {_usd(e.get('spent_usd'), 4)} of {_usd(e.get('budget_usd'))}, "
        f"{_usd(e.get('reserved_usd'), 4)} reserved by running sessions, "
        f"{_usd(e.get('remaining_usd'), 4)} left."
    )
    for reason, count in refused.most_common():
        console.print(Text(f"  refused {count}x: {reason}"))


def _write_csv(path: Path, sessions: list[dict[str, object]]) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in s.items()} for s in sessions)
    except OSError as err:
        console.print(Text(f"Could not write {path}: {err.strerror}", style="red"))
        raise typer.Exit(1) from err


def _cell(value: object) -> object:
    """A value a spreadsheet will not run as a formula (a reason may quote what was sent)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _attendee_link(binder: str, slug: str) -> str:
    path = f"/e/{quote(slug, safe='')}"
    if urlsplit(binder).hostname in LOCAL_HOSTS:
        return binder.rstrip("/") + path
    return f"{path} on the binder's public address"


def _usd(value: object, places: int = 2) -> str:
    return f"${value:,.{places}f}" if isinstance(value, int | float) else "-"


def _short(iso: object) -> str:
    """'2025-06-01T09:00:00+00:00' as '2025-06-01 09:00'."""
    return str(iso)[:16].replace("T", " ") if iso else "-"
