"""What the operator sees of images: each with its environment key, the build it came from,
and the repositories and commits whose sessions used it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from skybinder.domain.model import Image, Session
from skybinder.service.binder import Binder

MAX_IMAGES = 200  # the newest; older ones are in the store all the same


class ImageUse(BaseModel):
    """One repository at one commit that launched sessions from an image."""

    repo_url: str
    ref: str
    sessions: int = 0
    last_used_at: float = 0.0


class ImageReport(BaseModel):
    name: str
    state: str
    env_key: str = ""  # "" for an image of one commit
    repo_url: str = ""  # what it was built from
    ref: str = ""
    reason: str = ""
    created_at: float = 0.0
    finished_at: float | None = None
    used_by: list[ImageUse] = Field(default_factory=list)  # most recently used first


def image_reports(binder: Binder, limit: int = MAX_IMAGES) -> list[ImageReport]:
    """The newest `limit` images, each with its uses (sessions are kept 30 days after their
    end in AWS, so uses go back that far)."""
    return [
        _report(image, binder.store.list(image_name=image.name)) for image in _newest(binder, limit)
    ]


def _newest(binder: Binder, limit: int) -> list[Image]:
    return binder.store.list_images()[:limit]


def _report(image: Image, sessions: list[Session]) -> ImageReport:
    uses: dict[tuple[str, str], ImageUse] = {}
    for session in sessions:
        if session.build_only:
            continue
        use = uses.setdefault(
            (session.repo_url, session.ref), ImageUse(repo_url=session.repo_url, ref=session.ref)
        )
        use.sessions += 1
        use.last_used_at = max(use.last_used_at, session.created_at)
    return ImageReport(
        name=image.name,
        state=image.state.value,
        env_key=image.env_key,
        repo_url=image.repo_url,
        ref=image.ref,
        reason=image.reason,
        created_at=image.created_at,
        finished_at=image.finished_at,
        used_by=sorted(uses.values(), key=lambda u: -u.last_used_at),
    )
