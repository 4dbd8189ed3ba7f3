"""Why a session's ECS task stopped, in words a user reads: ECS stop codes mapped to reasons."""

from __future__ import annotations

SPOT_INTERRUPTION = (
    "spot-interruption: AWS reclaimed the Spot capacity this session ran on. Launch the "
    "repository again to get a new session."
)
IDLE = "idle: the server shut itself down (no activity, or shut down from JupyterLab)"


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
        return f"failed to start: {said or 'the task did not start'}"
    if stop_code == "EssentialContainerExited":
        if exit_code == 0:
            return IDLE
        code = "an unknown code" if exit_code is None else f"code {exit_code}"
        detail = f" ({container_reason.strip()})" if container_reason.strip() else ""
        return f"the server exited with {code}{detail}"
    if stop_code == "UserInitiated":
        return f"stopped: {said}" if said else "stopped"
    return said or stop_code or "the task stopped"
