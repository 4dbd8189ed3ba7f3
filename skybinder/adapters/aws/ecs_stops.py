"""Why a session's ECS task stopped, in words a user reads: ECS stop codes mapped to reasons."""

from __future__ import annotations

from skybinder.adapters.aws.names import FETCH_FAILED_EXIT
from skybinder.domain.model import IMAGE_MISSING

SPOT_INTERRUPTION = (
    "spot-interruption: AWS reclaimed the Spot capacity this session ran on. Launch the "
    "repository again to get a new session."
)
MISSING_IMAGE = (
    f"{IMAGE_MISSING}: the session's image is no longer in the registry. Launch the "
    "repository again: it will be built anew."
)
IDLE = "idle: the server shut itself down (no activity, or shut down from JupyterLab)"
FETCH_FAILED = (
    "the session could not fetch the launched commit of the repository (is it public, and "
    "reachable over https?), so no server was started on another commit's files"
)


def stop_reason(
    stop_code: str,
    stopped_reason: str,
    *,
    exit_code: int | None = None,
    container_reason: str = "",
) -> str:
    """The reason recorded on a session whose task stops with `stop_code`.

    A stop skybinder asked for (UserInitiated) usually finds the session `stopping` with a
    reason of its own (`idle`, `max-age`, ...), which the service keeps instead of this one.
    """
    said = stopped_reason.strip()
    if stop_code == "SpotInterruption":
        return SPOT_INTERRUPTION
    if stop_code == "TaskFailedToStart":
        if "CannotPullContainerError" in said and "not found" in said.lower():
            return MISSING_IMAGE
        return f"failed to start: {said or 'the task did not start'}"
    if stop_code == "EssentialContainerExited":
        if exit_code == 0:
            return IDLE
        if exit_code == FETCH_FAILED_EXIT:
            return FETCH_FAILED
        code = "an unknown code" if exit_code is None else f"code {exit_code}"
        detail = f" ({container_reason.strip()})" if container_reason.strip() else ""
        return f"the server exited with {code}{detail}"
    if stop_code == "UserInitiated":
        return f"stopped: {said}" if said else "stopped"
    return said or stop_code or "the task stopped"
