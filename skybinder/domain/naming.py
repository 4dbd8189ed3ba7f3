"""Names derived from specs and sessions: session ids, tokens and image names."""

from __future__ import annotations

import re
import secrets

# A routing prefix leads the id in URLs and in ALB target group names (at most 32 characters
# with the deployment's name prefix), so it takes its room from the random part.
ID_PREFIX = re.compile(r"[a-z0-9]{1,6}-")
RANDOM_BYTES = 8  # 16 hex characters
PREFIXED_RANDOM_BYTES = 7  # 14 hex characters: still 56 bits, far beyond guessing


def new_session_id(prefix: str = "") -> str:
    """A random session id starting with `prefix`: unguessable, short enough for ALB target
    group names. `prefix` (e.g. "p1-") says which load balancer serves the session; ""
    for none."""
    if not prefix:
        return secrets.token_hex(RANDOM_BYTES)
    if not ID_PREFIX.fullmatch(prefix):
        raise ValueError(
            f"Session id prefix {prefix!r}: 1-6 lowercase letters or digits, then '-'."
        )
    return prefix + secrets.token_hex(PREFIXED_RANDOM_BYTES)


def session_id_length(prefix: str = "") -> int:
    """How long the ids `new_session_id(prefix)` makes are."""
    return len(prefix) + 2 * (PREFIXED_RANDOM_BYTES if prefix else RANDOM_BYTES)


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
