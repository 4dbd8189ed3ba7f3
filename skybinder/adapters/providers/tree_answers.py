"""Reading trees and files from provider APIs for the environment key (domain/environment.py).

A file's content is accepted only when its git blob id is the one the tree listed, so the
text that was checked is exactly the file whose id goes into the key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from skybinder.adapters.providers.safe_http import Reply, SafeHttp
from skybinder.domain.environment import MAX_TEXT, Entry, NoKey, blob_id, entry_kind


def entries(
    items: Iterable[Any], *, name_key: str, type_key: str, sha_key: str
) -> dict[str, Entry]:
    """Tree entries from an API's list of objects with a name, a mode, a type and an id."""
    out: dict[str, Entry] = {}
    for item in items:
        if not isinstance(item, dict):
            raise NoKey("the tree listing has an unexpected shape")
        name, kind, sha = item.get(name_key), item.get(type_key), item.get(sha_key)
        mode = str(item.get("mode", ""))
        if not (isinstance(name, str) and isinstance(kind, str) and isinstance(sha, str)):
            raise NoKey("the tree listing has an unexpected shape")
        out[name.rsplit("/", 1)[-1]] = Entry(name.rsplit("/", 1)[-1], entry_kind(mode, kind), sha)
    return out


def file_content(http: SafeHttp, url: str, sha: str, *, what: str, path: str) -> bytes:
    """The content at `url`, checked against the blob id `sha`; NoKey otherwise."""
    reply: Reply = http.get(url, what=what, max_bytes=MAX_TEXT + 1)
    if reply.status_code != 200:
        raise NoKey(f"{path} could not be read ({what} answered {reply.status_code})")
    if len(reply.content) > MAX_TEXT:
        raise NoKey(f"{path} is larger than {MAX_TEXT // 1024} kB")
    if blob_id(reply.content) != sha:
        raise NoKey(f"{path} as served is not the file the tree lists")
    return reply.content
