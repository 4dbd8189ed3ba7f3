"""How a session's Jupyter server is started: the same flags locally and on Fargate."""

from __future__ import annotations

from pydantic import BaseModel


class JupyterOptions(BaseModel):
    """Settings of a session's server that the operator chooses."""

    idle_timeout: int = 600  # seconds without activity before kernels and server are culled
    default_url: str = "/lab"
    allow_root: bool = False  # Jupyter refuses to run as root without it
    # The origin, besides the server's own, whose pages may use the server's API and kernels:
    # "*" in AWS (thebe-style clients talk to sessions from other sites, as on mybinder.org);
    # locally only the binder's (bootstrap.session_origin), as Jupyter Server's own default.
    allow_origin: str = "*"

    def with_idle_timeout(self, seconds: int) -> JupyterOptions:
        """These options with another idle timeout (0: these as they are)."""
        return self.model_copy(update={"idle_timeout": seconds}) if seconds else self


def jupyter_args(base_url: str, ip: str, port: int, options: JupyterOptions) -> list[str]:
    """Arguments for `jupyter server` (the token comes from JUPYTER_TOKEN, not argv, so it
    never shows in a process list)."""
    idle = max(1, options.idle_timeout)
    args = [
        f"--ServerApp.ip={ip}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.base_url={base_url}",
        f"--ServerApp.default_url={options.default_url}",
        "--ServerApp.open_browser=False",
        f"--ServerApp.allow_origin={options.allow_origin}",
        "--ServerApp.trust_xheaders=True",
        # Requests arrive through the session proxy with the binder's public Host, which a
        # server on loopback would otherwise refuse as "non-local"; the token guards it.
        "--ServerApp.allow_remote_access=True",
        f"--ServerApp.shutdown_no_activity_timeout={idle}",
        f"--MappingKernelManager.cull_idle_timeout={idle}",
        f"--MappingKernelManager.cull_interval={min(60, idle)}",
        "--MappingKernelManager.cull_connected=False",
    ]
    if options.allow_root:
        args.append("--allow-root")
    return args
