"""Names derived from specs and sessions: session ids, tokens and image names."""

from __future__ import annotations

import secrets


def new_session_id() -> str:
    """A random session id: short enough for ALB target group names, unguessable."""
    return secrets.token_hex(8)


def new_token() -> str:
    """A random Jupyter token."""
    return secrets.token_urlsafe(24)


def image_name(prefix: str, slug: str, ref: str) -> str:
    """The image for a repository at a resolved ref: `<prefix><slug>:<ref>`.

    Docker tags allow at most 128 characters of `[A-Za-z0-9_.-]`; resolved refs are commit
    shas or provider version ids, so they are cleaned to that alphabet rather than rejected.
    """
    tag = "".join(c if c.isalnum() or c in "_.-" else "-" for c in ref)[:128] or "latest"
    return f"{prefix}{slug}:{tag}"
