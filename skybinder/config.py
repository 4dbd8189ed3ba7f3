"""Settings of the local binder, from the command line, a TOML config file and the environment."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skybinder.domain.pricing import Prices
from skybinder.domain.repo_policy import ProviderSettings

# The GitHub token: the first of these variables that is set, else `github_token` in the file.
# SKYBINDER_GITHUB_TOKEN overrides the file; the generic GITHUB_TOKEN, often set for other
# tools, is only a fallback.
TOKEN_VARIABLE = "SKYBINDER_GITHUB_TOKEN"
FALLBACK_TOKEN_VARIABLE = "GITHUB_TOKEN"


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/skybinder`, i.e. ~/.local/share/skybinder by default."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "skybinder"


class LocalSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8585
    # The binder's URL as users reach it (e.g. https://binder.example.org/ behind a TLS
    # proxy); "": the URL each request came in on.
    public_url: str = ""
    data_dir: Path = Field(default_factory=default_data_dir)
    max_sessions: int = 20  # BinderHub's pod quota, for one machine
    max_sessions_per_repo: int = 10
    idle_timeout: int = 600  # seconds: Jupyter culls idle kernels, then shuts down
    max_age: float = 6 * 3600.0
    github_token: str | None = None
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    reap_interval: float = 10.0
    poll_interval: float = 0.1  # local stores are cheap to read: watch closely
    keepalive: float = 25.0
    rate_limit: int = 0  # launches per client address per hour; 0: off (one user, one machine)
    max_builds: int = 2  # builds running at once; more wait for a free builder (0: no cap)
    allow_origins: list[str] = Field(default_factory=list)  # sites that may call /build (CORS)
    allow_hosts: list[str] = Field(default_factory=list)  # names besides localhost, IPs, ours
    pass_env: list[str] = Field(default_factory=list)  # variables repository code may see
    prices: Prices = Field(default_factory=Prices)  # events are priced as in AWS, to rehearse
    containment: str = "auto"  # how builds and sessions are contained: auto, bwrap, unshare, group


class ConfigFileError(ValueError):
    """The config file cannot be read or says something skybinder does not understand."""


class ConfigFile(BaseModel):
    """What `skybinder serve --config FILE` reads; README.md shows the format."""

    model_config = ConfigDict(extra="forbid")

    github_token: str | None = None
    max_sessions_per_repo: int | None = Field(default=None, ge=0)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    prices: Prices = Field(default_factory=Prices)


def read_config_file(path: Path) -> ConfigFile:
    """The parsed config file; ConfigFileError says what is wrong and where."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigFileError(f"Could not read the config file {path}: {err.strerror}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigFileError(f"The config file {path} is not valid TOML: {err}.") from None
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(_explain(error) for error in err.errors())
        raise ConfigFileError(f"The config file {path} has errors: {problems}.") from None


def github_token(configured: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    candidates = (environ.get(TOKEN_VARIABLE), configured, environ.get(FALLBACK_TOKEN_VARIABLE))
    return next((token.strip() for token in candidates if token and token.strip()), None)


def load_local_settings(
    config: Path | None = None, environ: Mapping[str, str] = os.environ, **options: Any
) -> LocalSettings:
    """LocalSettings from command-line `options`, the config file and the environment."""
    file = read_config_file(config) if config is not None else ConfigFile()
    if file.max_sessions_per_repo is not None:
        options["max_sessions_per_repo"] = file.max_sessions_per_repo
    return LocalSettings(
        **options,
        providers=file.providers,
        prices=file.prices,
        github_token=github_token(file.github_token, environ),
    )


def _explain(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())) or "the file"
    return f"{where}: {error.get('msg', 'invalid')}"
