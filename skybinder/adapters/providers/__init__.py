"""Repository providers and ProviderResolver, the Resolver port over all nine BinderHub prefixes."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import httpx

from skybinder.adapters.providers.base import DataProvider, RepoProvider, make_slug
from skybinder.adapters.providers.ckan import CkanProvider
from skybinder.adapters.providers.dataverse import DataverseProvider
from skybinder.adapters.providers.figshare import FigshareProvider
from skybinder.adapters.providers.gist import GistProvider
from skybinder.adapters.providers.git import GitProvider
from skybinder.adapters.providers.github import GitHubProvider
from skybinder.adapters.providers.github_api import GitHubApi
from skybinder.adapters.providers.gitlab import GitLabProvider
from skybinder.adapters.providers.guard import AddrInfo, UrlGuard
from skybinder.adapters.providers.hydroshare import HydroshareProvider
from skybinder.adapters.providers.safe_http import SafeHttp
from skybinder.adapters.providers.zenodo import ZenodoProvider
from skybinder.domain.errors import ProviderDisabledError, SpecBannedError
from skybinder.domain.repo_policy import ProviderSettings
from skybinder.domain.spec_rules import PROVIDERS, check_provider
from skybinder.service.ports import ResolvedRepo

__all__ = [
    "CkanProvider",
    "DataProvider",
    "DataverseProvider",
    "FigshareProvider",
    "GistProvider",
    "GitHubProvider",
    "GitLabProvider",
    "GitProvider",
    "HydroshareProvider",
    "ProviderResolver",
    "RepoProvider",
    "SafeHttp",
    "UrlGuard",
    "ZenodoProvider",
    "make_slug",
]


class ProviderResolver:
    """Implements the Resolver port: picks the provider for a prefix from an ordered list.

    Before a ref is resolved the operator's controls apply (BinderHub's order: a malformed spec
    is reported as such, then a banned or not-allowed one is refused); the resolved repository
    carries the per-repository quota they give. Every request goes through one SSRF guard,
    which allows local addresses only with `allow_local`.
    """

    def __init__(
        self,
        client: httpx.Client,
        allow_local: bool = False,
        github_token: str | None = None,
        *,
        now: Callable[[], float] = time.time,
        settings: ProviderSettings | None = None,
        getaddrinfo: AddrInfo = socket.getaddrinfo,
        environments: bool = False,
    ) -> None:
        self.settings = settings or ProviderSettings()
        # Environment digests cost a few more requests per resolution; only a binder that
        # shares images between commits (the cloud's) asks for them.
        self.environments = environments
        self.http = SafeHttp(client, UrlGuard(allow_local=allow_local, getaddrinfo=getaddrinfo))
        github = GitHubApi(self.http, token=github_token, now=now)
        built: dict[str, RepoProvider[Any]] = {
            "gh": GitHubProvider(github),
            "gist": GistProvider(github, allow_secret=self.settings.allow_secret_gists),
            "gl": GitLabProvider(self.http, hosts=self.settings.gitlab_hosts, now=now),
            "git": GitProvider(self.http, allow_local=allow_local),
            "zenodo": ZenodoProvider(self.http, now=now),
            "figshare": FigshareProvider(self.http, now=now),
            "dataverse": DataverseProvider(
                self.http, extra_hosts=self.settings.dataverse_hosts, now=now
            ),
            "hydroshare": HydroshareProvider(self.http, now=now),
            "ckan": CkanProvider(self.http, now=now),
        }
        self.providers: list[RepoProvider[Any]] = [built[prefix] for prefix in PROVIDERS]

    def resolve(self, provider: str, spec: str) -> ResolvedRepo:
        check_provider(provider)  # UnknownProviderError names the known prefixes
        candidate = self._provider(provider)
        spec = spec.rstrip("/")
        candidate.parse(spec)  # SpecError first: no policy, no request for a malformed spec
        if provider in self.settings.disabled:
            raise ProviderDisabledError(
                f"The {provider} provider is disabled on this binder. Launch the repository "
                f"from one of: {', '.join(self.enabled())}."
            )
        if self.settings.banned(provider, spec):
            raise SpecBannedError(
                f"Sorry, {spec} has been temporarily disabled from launching. Please contact "
                "admins for more info!"
            )
        repo = candidate.resolve(spec, environment=self.environments)
        return repo.model_copy(update={"quota": self.settings.quota_for(provider, spec)})

    def display_configs(self) -> list[dict[str, object]]:
        enabled = set(self.enabled())
        configs = (p.display_config() for p in self.providers if p.prefix in enabled)
        return [config for config in configs if config is not None]

    def enabled(self) -> list[str]:
        return [p.prefix for p in self.providers if p.prefix not in self.settings.disabled]

    def data_providers(self) -> dict[str, DataProvider]:
        """The providers whose repositories are data records, by prefix (for the data fetcher)."""
        return {p.prefix: p for p in self.providers if isinstance(p, DataProvider)}

    def _provider(self, prefix: str) -> RepoProvider[Any]:
        for candidate in self.providers:
            if candidate.prefix == prefix:
                return candidate
        raise AssertionError(f"prefix {prefix!r} is known but has no provider")
