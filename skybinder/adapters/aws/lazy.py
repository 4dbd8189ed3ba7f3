"""What the AWS functions make only when first needed: the resolver (with its GitHub token
from SSM or Secrets Manager), the prober's HTTP client, and the public URL (maybe from SSM).

A function that never resolves or probes (build, and reap on task events) then never imports
the providers or httpx: less to load on a cold start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from skybinder.domain.errors import LaunchError
from skybinder.domain.repo_policy import ProviderSettings
from skybinder.service.ports import Prober, ResolvedRepo, Resolver

PROBE_TIMEOUT = 5.0  # seconds; a probe that takes longer is a "not yet"


class LazyResolver:
    """The providers, built on the first resolve, with the GitHub token read then."""

    def __init__(
        self,
        token_name: str,
        client: Callable[[str], Any],
        settings: ProviderSettings | None = None,
        *,
        environments: bool = False,
    ) -> None:
        self._token_name = token_name
        self._client = client
        self._settings = settings  # the operator's controls: banned specs
        self._environments = environments  # read environment digests (images are shared)
        self._lock = threading.Lock()
        self._inner: Resolver | None = None

    def _resolver(self) -> Resolver:
        with self._lock:
            if self._inner is None:
                self._inner = self._build()
            return self._inner

    def _build(self) -> Resolver:
        import httpx

        from skybinder.adapters.aws.github_token import read_github_token
        from skybinder.adapters.providers import ProviderResolver
        from skybinder.adapters.providers.cache import CachingResolver

        token = None
        if self._token_name:
            service = "secretsmanager" if ":secretsmanager:" in self._token_name else "ssm"
            token = read_github_token(self._client(service), self._token_name)
        http = httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False)
        # allow_local=False: in the cloud a local address is a request forgery hole.
        resolver = ProviderResolver(
            http,
            allow_local=False,
            github_token=token,
            settings=self._settings,
            environments=self._environments,
        )
        return CachingResolver(resolver)

    def resolve(self, provider: str, spec: str) -> ResolvedRepo:
        return self._resolver().resolve(provider, spec)

    def display_configs(self) -> list[dict[str, object]]:
        return self._resolver().display_configs()


class LazyProber:
    """A PublicUrlProber whose HTTP client is made on the first probe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inner: Prober | None = None

    def ready(self, url: str) -> bool:
        with self._lock:
            if self._inner is None:
                import httpx

                from skybinder.adapters.aws.http_prober import PublicUrlProber

                timeout = httpx.Timeout(PROBE_TIMEOUT, connect=2.0)
                self._inner = PublicUrlProber(httpx.Client(timeout=timeout))
            prober = self._inner
        return prober.ready(url)


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
