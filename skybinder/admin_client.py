"""Calls to a binder's admin API: a bearer token for a local binder, SigV4 for AWS."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")


class AdminClientError(Exception):
    """A call to the admin API could not be made or was refused; the message says why."""


def local_token(data_dir: Path) -> str:
    path = data_dir / "admin-token"
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise AdminClientError(
            f"No admin token at {path}: is `skybinder serve` running with this --data-dir?"
        ) from err


def sigv4_headers(
    method: str,
    url: str,
    region: str | None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """Headers that sign the request (`body` and `headers` included) with the caller's AWS
    credentials for service execute-api; they include `headers`, which must be sent as is."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import get_session

    session = get_session()
    credentials = session.get_credentials()
    if credentials is None:
        raise AdminClientError("No AWS credentials found: configure them as for the AWS CLI.")
    found = _REGION_IN_HOST.search(urlsplit(url).hostname or "")
    region = region or (found.group(1) if found else None) or session.get_config_variable("region")
    if not region:
        raise AdminClientError("Cannot tell the AWS region: pass --region.")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def call(
    client: httpx.Client,
    method: str,
    binder_url: str,
    path: str,
    *,
    data_dir: Path,
    region: str | None = None,
    body: object = None,
) -> object:
    """Make an admin call (with `body` as its JSON, unless None) and return the JSON answer,
    or raise AdminClientError saying why not."""
    url = binder_url.rstrip("/") + path
    content = b"" if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if urlsplit(url).hostname in LOCAL_HOSTS:
        headers["Authorization"] = f"Bearer {local_token(data_dir)}"
    else:  # the signature covers the body: what is sent must be these very bytes
        headers = sigv4_headers(method, url, region, content, headers)
    try:
        reply = client.request(method, url, headers=headers, content=content or None)
    except httpx.HTTPError as err:
        raise AdminClientError(f"Could not reach {binder_url}: {err}") from err
    if reply.status_code >= 400:
        detail = reply.json().get("detail", reply.text) if _is_json(reply) else reply.text
        raise AdminClientError(f"{method} {path} answered {reply.status_code}: {detail}")
    return reply.json()


def _is_json(reply: httpx.Response) -> bool:
    return str(reply.headers.get("content-type", "")).startswith("application/json")
