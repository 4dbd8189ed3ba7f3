"""`skybinder images`: a binder's images, their environment keys and who used them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from skybinder.cli_sessions import BINDER, DATA_DIR, REGION, _call, _when, console

app = typer.Typer(help="Images of a binder and the commits that used them.", no_args_is_help=True)


@app.command("list")
def list_(binder: str = BINDER, data_dir: Path = DATA_DIR, region: str = REGION) -> None:
    """List the binder's images, newest first: an environment-keyed image is shared by every
    commit (and fork) with the same environment; the others belong to one commit."""
    images = _call("GET", binder, "/api/admin/images", data_dir, region)
    table = Table("image", "state", "key", "built from", "built (UTC)", "used by")
    for image in images if isinstance(images, list) else []:
        uses = [f"{u['repo_url']}@{str(u['ref'])[:12]} ({u['sessions']})" for u in image["used_by"]]
        table.add_row(
            image["name"],
            image["state"],
            str(image["env_key"])[:12] or "(per commit)",
            f"{image['repo_url']}@{str(image['ref'])[:12]}",
            _when(image["created_at"]),
            "\n".join(uses),
        )
    console.print(table)
