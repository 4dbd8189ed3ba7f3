"""A client of any BinderHub-compatible /build endpoint (skybinder's or mybinder.org's)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
PROVIDERS = ("gh", "gist", "gl", "git", "zenodo", "figshare", "dataverse", "hydroshare", "ckan")


def to_spec(target: str, ref: str = "HEAD") -> str:
    """`<provider>/<spec>` for a repository URL, a local path or a spec given as is.

    GitHub and GitLab URLs become `gh`/`gl` specs as on mybinder.org's home page; any other
    clone URL, and a local path (only a local binder can fetch those), becomes a `git` spec.
    """
    prefix = target.split("/", 1)[0]
    if prefix in PROVIDERS and "/" in target and "://" not in target:
        return target.rstrip("/")
    if target.startswith("10.") and "/" in target:
        return f"zenodo/{target}" if "zenodo" in target else f"dataverse/{target}"
    path = Path(target).expanduser()
    if "://" not in target and "@" not in target and path.exists():
        return f"git/{quote(path.resolve().as_uri(), safe='')}/{ref}"
    parts = urlsplit(target)
    name = parts.path.strip("/").removesuffix(".git")
    if parts.hostname == "github.com" and name.count("/") == 1:
        return f"gh/{name}/{ref}"
    if parts.hostname == "gitlab.com" and "/" in name:
        return f"gl/{quote(name, safe='')}/{ref}"
    return f"git/{quote(target, safe='')}/{ref}"


def local_token(binder_url: str, data_dir: Path) -> str | None:
    """The access token of the binder at `binder_url` when it runs on this machine (read from
    `<data_dir>/token`); None for any other binder, which must never be sent it."""
    host = (urlsplit(binder_url).hostname or "").lower()
    if host not in LOOPBACK:
        return None
    try:
        return (data_dir / "token").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def events(
    client: httpx.Client,
    binder_url: str,
    spec: str,
    *,
    build_only: bool = False,
    token: str | None = None,
) -> Iterator[dict[str, object]]:
    """Read the /build stream of `spec`, yielding each event until `ready` or `failed`.
    `token`: the binder's access token (a local binder's), sent as `Authorization: token`."""
    url = f"{binder_url.rstrip('/')}/build/{spec}"
    params = {"build_only": "true"} if build_only else {}
    headers = {"Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"token {token}"
    timeout = httpx.Timeout(30.0, read=None)
    with client.stream("GET", url, params=params, headers=headers, timeout=timeout) as reply:
        if reply.status_code != 200:
            message = f"{url} answered HTTP {reply.status_code}"
            yield {"phase": "failed", "status_code": reply.status_code, "message": message}
            return
        for line in reply.iter_lines():
            if not line.startswith("data:"):
                continue  # blank separators and `:keepalive` comments
            event = json.loads(line[len("data:") :])
            yield event
            if str(event.get("phase", "")).lower() in {"ready", "failed"}:
                return


def session_link(event: dict[str, object], path: str = "") -> str:
    """The URL a person opens for a `ready` event: the server URL, a path, and the token."""
    return f"{event['url']}{path.lstrip('/')}?token={event['token']}"
