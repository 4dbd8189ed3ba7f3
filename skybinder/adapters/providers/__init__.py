"""Repository providers and ProviderResolver, the Resolver port over all nine BinderHub prefixes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from skybinder.adapters.providers.base import ParseOnlyProvider, RepoProvider, make_slug
from skybinder.adapters.providers.git import GitProvider
from skybinder.adapters.providers.github import GitHubProvider
from skybinder.domain.spec_rules import PROVIDERS, check_provider
from skybinder.service.ports import ResolvedRepo

__all__ = [
    "GitHubProvider",
    "GitProvider",
    "ParseOnlyProvider",
    "ProviderResolver",
    "RepoProvider",
    "make_slug",
]


class ProviderResolver:
    """Implements the Resolver port: picks the provider for a prefix from an ordered list.

    gh and git resolve; the other BinderHub prefixes validate their spec and then raise
    ProviderDisabledError, so a malformed spec is still reported as such.
    """

    def __init__(
        self,
        client: httpx.Client,
        allow_local: bool = False,
        github_token: str | None = None,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        resolving: list[RepoProvider[Any]] = [
            GitHubProvider(client, token=github_token, now=now),
            GitProvider(client, allow_local=allow_local),
        ]
        enabled = [provider.prefix for provider in resolving]
        self.providers: list[RepoProvider[Any]] = [
            *resolving,
            *(ParseOnlyProvider(prefix, enabled) for prefix in PROVIDERS if prefix not in enabled),
        ]

    def resolve(self, provider: str, spec: str) -> ResolvedRepo:
        check_provider(provider)  # UnknownProviderError names the known prefixes
        for candidate in self.providers:
            if candidate.prefix == provider:
                return candidate.resolve(spec)
        raise AssertionError(f"prefix {provider!r} is known but has no provider")

    def display_configs(self) -> list[dict[str, object]]:
        configs = (provider.display_config() for provider in self.providers)
        return [config for config in configs if config is not None]
