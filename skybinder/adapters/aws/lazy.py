"""What the AWS functions read only when first needed: the resolver (with its GitHub token
from SSM or Secrets Manager) and the public URL (maybe from SSM)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from skybinder.adapters.aws.github_token import read_github_token
from skybinder.adapters.providers import ProviderResolver
from skybinder.adapters.providers.cache import CachingResolver
from skybinder.domain.errors import LaunchError
from skybinder.service.ports import ResolvedRepo, Resolver


class LazyResolver:
    """The providers, built on the first resolve: the build and reap functions never need
    them, so they never read the token."""

    def __init__(self, http: httpx.Client, token_name: str, client: Callable[[str], Any]) -> None:
        self._http = http
        self._token_name = token_name
        self._client = client
        self._lock = threading.Lock()
        self._inner: Resolver | None = None

    def _resolver(self) -> Resolver:
        with self._lock:
            if self._inner is None:
                token = None
                if self._token_name:
                    service = "secretsmanager" if ":secretsmanager:" in self._token_name else "ssm"
                    token = read_github_token(self._client(service), self._token_name)
                # allow_local=False: in the cloud a local address is a request forgery hole.
                providers = ProviderResolver(self._http, allow_local=False, github_token=token)
                self._inner = CachingResolver(providers)
            return self._inner

    def resolve(self, provider: str, spec: str) -> ResolvedRepo:
        return self._resolver().resolve(provider, spec)

    def display_configs(self) -> list[dict[str, object]]:
        return self._resolver().display_configs()


def public_url_reader(value: str, parameter: str, ssm: Callable[[], Any]) -> Callable[[], str]:
    """A function giving the public URL: `value` when set, else the SSM `parameter`, read once
    (the distribution's domain is known only after the functions exist, so it is stored there)."""
    cached: list[str] = [value.rstrip("/")] if value else []
    lock = threading.Lock()

    def read() -> str:
        with lock:
            if not cached:
                if not parameter:
                    raise LaunchError("This binder does not know its public URL (not configured).")
                answer = ssm().get_parameter(Name=parameter)
                cached.append(str(answer["Parameter"]["Value"]).strip().rstrip("/"))
            return cached[0]

    return read
