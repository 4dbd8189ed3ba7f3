"""Launch events in BinderHub's launch-event schema, one JSON log line per launch outcome,
so operators can publish usage figures the way mybinder.org does."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

from skybinder.domain.model import Session

SCHEMA = "binderhub.jupyter.org/launch"
VERSION = 6
# The schema's names for the providers (its `provider` enum).
PROVIDER_NAMES = {
    "gh": "GitHub",
    "gist": "Gist",
    "gl": "GitLab",
    "git": "Git",
    "zenodo": "Zenodo",
    "figshare": "Figshare",
    "hydroshare": "Hydroshare",
    "dataverse": "Dataverse",
    "ckan": "CKAN",
}
log = logging.getLogger("skybinder.launch_events")


def launch_event(session: Session, status: str, now: float) -> dict[str, object]:
    """The event for a launch that ended in `status` ("success" or "failure").

    A launch of an environment-keyed image adds `environment` (beyond BinderHub's schema):
    its key, and `reused_from`, the "<repository>@<commit>" whose build it reused ("" when
    the image was built for this very commit)."""
    event: dict[str, object] = {
        "schema": SCHEMA,
        "version": VERSION,
        "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
        "provider": PROVIDER_NAMES.get(session.provider, session.provider),
        "spec": session.spec,
        "ref": session.ref,
        "status": status,
        "build_token": session.build_token,
        "origin": urlsplit(session.launch_host).netloc,
    }
    if session.env_key:
        event["environment"] = {"key": session.env_key, "reused_from": session.reused_from}
    return event


def emit_launch_event(session: Session, status: str, now: float) -> None:
    """Log the event for a launch (not a build-only request) that reached its outcome.

    The record also carries `launch_outcome` (status, seconds from request to outcome) for
    handlers that turn launches into metrics (adapters/aws/launch_metrics.py)."""
    if session.build_only or not session.repo_url:
        return  # nothing was launched: a build, or a spec that never resolved
    outcome = {"status": status, "seconds": max(0.0, now - session.created_at)}
    log.info(
        json.dumps(launch_event(session, status, now), sort_keys=True),
        extra={"launch_outcome": outcome},
    )
