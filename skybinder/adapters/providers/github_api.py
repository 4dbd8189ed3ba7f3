"""GitHubApi: GET from the GitHub REST API with the optional token and clear rate-limit errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from skybinder.adapters.providers.answers import json_object, rate_limit_wait, rate_limited
from skybinder.adapters.providers.safe_http import Reply, SafeHttp
from skybinder.domain.errors import ProviderUnavailableError

API_URL = "https://api.github.com"


class GitHubApi:
    """The GitHub REST API as gh and gist use it; `now` (epoch seconds) dates rate limits."""

    def __init__(
        self,
        http: SafeHttp,
        *,
        token: str | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self.http = http  # for what GitHub serves beside its API (raw file contents)
        self.token = token
        self._now = now

    def get_json(self, path: str) -> dict[str, Any] | None:
        """The JSON object at `path`, or None when GitHub says there is no such thing.

        404 means no such repository, gist or ref (or a private one); 422 means the ref is not
        a valid commit-ish. Renamed repositories answer 301 to their new API URL, followed.
        """
        headers = {"Accept": "application/vnd.github+json"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        reply = self._http.get(f"{API_URL}{path}", what="GitHub", headers=headers)
        if reply.status_code in (404, 422):
            return None
        self._raise_for_status(reply)
        return json_object(reply, "GitHub")

    def _raise_for_status(self, reply: Reply) -> None:
        status = reply.status_code
        if status == 200:
            return
        wait = rate_limit_wait(reply, self._now)
        if wait is not None:
            advice = "" if self.token else ", or set a GitHub token for this binder"
            raise rate_limited("GitHub", wait, advice)
        if status == 401:
            raise ProviderUnavailableError(
                "GitHub rejected this binder's token (401). The operator should check it."
            )
        raise ProviderUnavailableError(
            f"GitHub answered {status} while resolving the ref. Try again in a few minutes."
        )
