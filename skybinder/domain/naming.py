"""Names derived from specs and sessions: session ids, tokens and image names."""

from __future__ import annotations

import secrets

RANDOM_BYTES = 8  # 16 hex characters: 64 bits, far beyond guessing


def new_session_id() -> str:
    """A random session id: unguessable, and safe as a URL path segment (`/s/<id>/`)."""
    return secrets.token_hex(RANDOM_BYTES)


def new_token() -> str:
    """A random Jupyter token."""
    return secrets.token_urlsafe(24)


ENV_IMAGE = "env"  # the repository part of the name of every environment-keyed image


def env_image_name(prefix: str, key: str) -> str:
    """The image of an environment key: `<prefix>env:<key>`, shared by every commit and
    repository whose environment has that key (domain/environment.py)."""
    return f"{prefix}{ENV_IMAGE}:{key}"


def image_name(prefix: str, slug: str, ref: str) -> str:
    """The image for a repository at a resolved ref: `<prefix><slug>:<ref>`.

    Docker tags allow at most 128 characters of `[A-Za-z0-9_.-]`; resolved refs are commit
    shas or provider version ids, so they are cleaned to that alphabet rather than rejected.
    """
    tag = "".join(c if c.isalnum() or c in "_.-" else "-" for c in ref)[:128] or "latest"
    return f"{prefix}{slug}:{tag}"
