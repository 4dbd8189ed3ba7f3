"""GitLabProvider: resolves gl/<url-escaped namespace>/<ref> on gitlab.com or a configured GitLab.

The namespace is `group/subgroup/project` on gitlab.com, as in BinderHub. For a self-hosted
GitLab the operator lists in `gitlab_hosts`, the namespace is the project's URL instead, e.g.
`gl/https%3A%2F%2Fgitlab.example.org%2Fgroup%2Fproject/main`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from skybinder.adapters.providers.answers import check_answer, json_object, unexpected
from skybinder.adapters.providers.base import RepoProvider, make_slug
from skybinder.adapters.providers.gitlab_tree import GitLabTree
from skybinder.adapters.providers.safe_http import SafeHttp
from skybinder.domain.errors import ResolveError
from skybinder.domain.spec_rules import show, spec_error
from skybinder.domain.specs import is_sha1, parse_gitlab
from skybinder.service.ports import ResolvedRepo

DEFAULT_HOST = "gitlab.com"


@dataclass(frozen=True)
class GitLabTarget:
    host: str
    namespace: str  # decoded: group/subgroup/project
    ref: str
    escaped: str  # the namespace part of the spec as given, for the persistent spec


class GitLabProvider(RepoProvider[GitLabTarget]):
    prefix = "gl"

    def __init__(
        self,
        http: SafeHttp,
        *,
        hosts: Iterable[str] = (),
        now: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self.hosts = {DEFAULT_HOST, *(host.lower() for host in hosts)}
        self._now = now

    def parse(self, spec: str) -> GitLabTarget:
        escaped, _, raw_ref = spec.rstrip("/").partition("/")
        decoded = unquote(escaped)
        host = DEFAULT_HOST
        if "://" in decoded:
            host, path = self._project_url(decoded)
            spec = f"{quote(path, safe='')}/{raw_ref}"
        parsed = parse_gitlab(spec)  # the namespace and ref rules are gitlab.com's
        return GitLabTarget(host, parsed.namespace, parsed.ref, escaped)

    def resolve_ref(self, parsed: GitLabTarget, notices: list[str]) -> str:
        project = quote(parsed.namespace, safe="")
        url = (
            f"https://{parsed.host}/api/v4/projects/{project}/repository/commits/"
            f"{quote(parsed.ref, safe='')}"
        )
        reply = self._http.get(url, what=f"GitLab ({parsed.host})")
        not_found = (
            f"Could not resolve ref {parsed.ref!r} of {parsed.host}/{parsed.namespace}: no such "
            "project, branch, tag or commit. Check the URL, and that the project is public."
        )
        if reply.status_code in (401, 403):  # GitLab's answer for private projects
            raise ResolveError(not_found)
        check_answer(reply, f"GitLab ({parsed.host})", not_found=not_found, now=self._now)
        sha = json_object(reply, "GitLab").get("id")
        if not isinstance(sha, str) or not is_sha1(sha):
            raise unexpected("GitLab")
        return sha.lower()

    def environment_reader(self, parsed: GitLabTarget, ref: str) -> GitLabTree:
        return GitLabTree(self._http, parsed.host, parsed.namespace, ref)

    def describe(self, spec: str, parsed: GitLabTarget, ref: str) -> ResolvedRepo:
        web = f"https://{parsed.host}/{parsed.namespace}"
        repo_key = f"gl:{parsed.host}/{parsed.namespace}".lower()
        return ResolvedRepo(
            provider=self.prefix,
            spec=spec,
            repo_url=f"{web}.git",
            ref=ref,
            ref_url=f"{web}/-/tree/{ref}",
            resolved_spec=f"{parsed.escaped}/{ref}",
            repo_key=repo_key,
            slug=make_slug("gl", parsed.namespace.replace("/", "-"), repo_key),
        )

    def display_config(self) -> dict[str, object] | None:
        return {
            "id": self.prefix,
            "displayName": "GitLab.com",
            "spec": {"validateRegex": r"[^/]+/.+"},
            "repo": {
                "label": "GitLab.com repository or URL",
                "placeholder": "example: https://gitlab.com/mosaik/examples/mosaik-tutorials-on-binder",
                "urlEncode": True,
            },
            "ref": {"enabled": True, "default": "HEAD"},
            "detect": {"regex": r"^(?:https?://gitlab\.com/)?(?<repo>.+?)(?:\.git)?/?$"},
        }

    def _project_url(self, url: str) -> tuple[str, str]:
        """(host, namespace path) of a project URL on a GitLab this binder knows."""
        parts = urlsplit(url)
        host = (parts.netloc or "").lower()
        if parts.scheme not in ("http", "https") or parts.query or parts.fragment:
            raise spec_error("gl", f"{show(url)} is not an http(s) URL of a GitLab project")
        if host not in self.hosts:
            known = ", ".join(sorted(self.hosts))
            raise spec_error(
                "gl",
                f"{show(host)} is not a GitLab this binder knows (known: {known}); the "
                "operator can add it to gitlab_hosts",
            )
        path = parts.path.strip("/").removesuffix(".git")
        return host, path.split("/-/", 1)[0]  # ".../project/-/tree/main" is still the project
