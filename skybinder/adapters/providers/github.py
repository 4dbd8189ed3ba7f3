"""GitHubProvider: resolves gh/<user>/<repo>/<ref> to a commit through the GitHub REST API."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from urllib.parse import quote

import httpx

from skybinder.adapters.providers.base import RepoProvider, make_slug
from skybinder.domain.errors import ProviderUnavailableError, ResolveError
from skybinder.domain.specs import GitHubSpec, is_sha1, parse_github
from skybinder.service.ports import ResolvedRepo

API_URL = "https://api.github.com"
WEB_URL = "https://github.com"


class GitHubProvider(RepoProvider[GitHubSpec]):
    prefix = "gh"

    def __init__(
        self,
        client: httpx.Client,
        *,
        token: str | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._token = token
        self._now = now  # epoch seconds; injected so rate-limit messages can be tested

    def parse(self, spec: str) -> GitHubSpec:
        return parse_github(spec)

    def resolve_ref(self, parsed: GitHubSpec, notices: list[str]) -> str:
        sha = self._commit_sha(parsed, parsed.ref)
        if sha is None and parsed.ref == "master":
            # Many old links and badges say "master" for repositories whose default branch has
            # since been renamed; BinderHub retries those as HEAD, and so do we.
            notices.append("Ref 'master' not found, trying HEAD (the default branch)...")
            sha = self._commit_sha(parsed, "HEAD")
        if sha is None:
            raise ResolveError(
                f"Could not resolve ref {parsed.ref!r} of github.com/{parsed.user}/{parsed.repo}: "
                "no such repository, branch, tag or commit. Check the URL, and that the "
                "repository is public."
            )
        return sha

    def describe(self, spec: str, parsed: GitHubSpec, ref: str) -> ResolvedRepo:
        repo_url = f"{WEB_URL}/{parsed.user}/{parsed.repo}"
        repo_key = f"gh:{parsed.user}/{parsed.repo}".lower()  # GitHub names ignore case
        return ResolvedRepo(
            provider=self.prefix,
            spec=spec,
            repo_url=repo_url,
            ref=ref,
            ref_url=f"{repo_url}/tree/{ref}",
            resolved_spec=f"{parsed.user}/{parsed.repo}/{ref}",
            repo_key=repo_key,
            slug=make_slug("gh", f"{parsed.user}-{parsed.repo}", repo_key),
        )

    def display_config(self) -> dict[str, object] | None:
        return {
            "id": self.prefix,
            "displayName": "GitHub",
            "spec": {"validateRegex": r"[^/]+/[^/]+/.+"},
            "repo": {
                "label": "GitHub repository name or URL",
                "placeholder": "example: binder-examples/requirements or "
                "https://github.com/binder-examples/requirements",
                "urlEncode": False,
            },
            "ref": {"enabled": True, "default": "HEAD"},
            # Lets the home page accept a pasted https://github.com/<user>/<repo> URL.
            "detect": {
                "regex": r"^(?:https?://github\.com/)?(?<repo>[^/\s]+/[^/\s]+?)(?:\.git)?/?$"
            },
        }

    def _commit_sha(self, parsed: GitHubSpec, ref: str) -> str | None:
        """The commit `ref` names, or None when GitHub says there is no such repo or ref."""
        url = f"{API_URL}/repos/{parsed.user}/{parsed.repo}/commits/{quote(ref, safe='/')}"
        headers = {"Accept": "application/vnd.github+json", "User-Agent": "skybinder"}
        if self._token:
            headers["Authorization"] = f"token {self._token}"
        try:
            # Renamed repositories answer 301 to their new API URL, still on api.github.com.
            response = self._client.get(url, headers=headers, follow_redirects=True)
        except httpx.HTTPError as error:
            raise ProviderUnavailableError(
                f"Could not reach GitHub ({type(error).__name__}). Try again in a minute."
            ) from error
        if response.status_code in (404, 422):  # 422: the ref is not a valid commit-ish
            return None
        self._raise_for_status(response)
        try:
            sha = response.json().get("sha")
        except (ValueError, AttributeError):
            sha = None
        if not isinstance(sha, str) or not is_sha1(sha):
            raise ProviderUnavailableError("GitHub sent an unexpected answer. Try again later.")
        return sha.lower()

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        wait = self._rate_limit_wait(response)
        if wait is not None:
            minutes = max(1, math.ceil(wait / 60))
            advice = "" if self._token else ", or set a GitHub token for this binder"
            raise ProviderUnavailableError(
                f"GitHub rate limit exceeded. Try again in {minutes} "
                f"minute{'s' if minutes != 1 else ''}{advice}.",
                status_code=429,
            )
        if status == 401:
            raise ProviderUnavailableError(
                "GitHub rejected this binder's token (401). The operator should check it."
            )
        raise ProviderUnavailableError(
            f"GitHub answered {status} while resolving the ref. Try again in a few minutes."
        )

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds until GitHub accepts requests again, or None when this is no rate limit."""
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        if headers.get("x-ratelimit-remaining") == "0":
            try:
                return max(0.0, float(headers.get("x-ratelimit-reset", "")) - self._now())
            except ValueError:
                return 60.0
        # Secondary rate limits come with Retry-After instead of a reset time.
        retry_after = headers.get("retry-after", "")
        if retry_after.isdigit():
            return float(retry_after)
        return 60.0 if response.status_code == 429 else None
