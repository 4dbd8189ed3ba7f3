"""Admission rules every SessionStore applies the same way: quotas and permitted changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from skybinder.domain.errors import QuotaExceededError
from skybinder.domain.model import Image, Limits, Session

GLOBAL_QUOTA_MESSAGE = "Too many users on this BinderHub! Try again soon."


def repo_quota_message(session: Session) -> str:
    return f"Too many users running {session.repo_url or session.repo_key}! Try again soon."


def check_quota(limits: Limits, session: Session, active: int, active_for_repo: int) -> None:
    """QuotaExceededError (BinderHub's messages) when `session` would exceed a non-zero limit,
    given how many sessions are active in all and for its repository. Global comes first."""
    if 0 < limits.max_sessions <= active:
        raise QuotaExceededError(GLOBAL_QUOTA_MESSAGE)
    if 0 < limits.max_sessions_per_repo <= active_for_repo:
        raise QuotaExceededError(repo_quota_message(session))


def check_changes(
    model: type[BaseModel], changes: Mapping[str, object], fixed: Sequence[str]
) -> None:
    """ValueError for changes to unknown fields (pydantic would drop them silently) or keys."""
    unknown = sorted(set(changes) - set(model.model_fields))
    if unknown:
        raise ValueError(f"{model.__name__} has no field(s) {unknown}.")
    locked = sorted(set(changes) & set(fixed))
    if locked:
        raise ValueError(f"{model.__name__} field(s) {locked} cannot be changed this way.")


def check_image_update(changes: Mapping[str, object], where: Mapping[str, object] | None) -> None:
    """ValueError unless an `update_image` sets only image fields other than its identity and
    state, and conditions only on image fields."""
    check_changes(Image, changes, fixed=("name", "state"))
    check_changes(Image, where or {}, fixed=())


def check_session_update(changes: Mapping[str, object], where: Mapping[str, object] | None) -> None:
    """ValueError unless a `transition` sets only session fields other than its identity and
    state, and conditions only on session fields other than its state (`expected` says that)."""
    check_changes(Session, changes, fixed=("id", "state"))
    check_changes(Session, where or {}, fixed=("state",))


def matches(record: BaseModel, where: Mapping[str, object] | None) -> bool:
    """True when every field named in `where` has that value on `record`."""
    return all(getattr(record, field) == value for field, value in (where or {}).items())
