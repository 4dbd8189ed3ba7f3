"""Session ids in proxy paths, checked before anything is looked up.

The session is named by the first segment after `/s/` of the raw (still percent-encoded)
path, which must be an id as the binder makes them: lowercase letters, digits and hyphens,
at most 64 characters. Anything else (`..`, an encoded slash, non-ASCII, an overlong or
empty id) is refused as malformed, never looked up. The rest of the path goes to the
session's own server as the client sent it, except dot segments, which are refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

PREFIX = "/s/"
SESSION_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class MalformedPathError(ValueError):
    """The path names no session the way the binder names them."""


@dataclass(frozen=True)
class SessionPath:
    session_id: str
    rest: str  # the raw path after the id, with its "/" ("" for `/s/<id>` alone)
    query: str  # the raw query string, without "?"

    @property
    def base(self) -> str:
        return f"{PREFIX}{self.session_id}/"


def is_session_path(raw_path: str) -> bool:
    return raw_path == PREFIX[:-1] or raw_path.startswith(PREFIX) or raw_path.startswith("/s?")


def parse(raw_target: str) -> SessionPath:
    """The session and the rest of a raw request target under /s/ (path and query)."""
    path, _, query = raw_target.partition("?")
    segment, slash, rest = path[len(PREFIX) :].partition("/")
    if not path.startswith(PREFIX) or not SESSION_ID.fullmatch(segment):
        raise MalformedPathError(segment)
    rest = slash + rest
    if any(unquote(part) in {".", ".."} for part in rest.split("/")):
        raise MalformedPathError(rest)
    return SessionPath(session_id=segment, rest=rest, query=query)
