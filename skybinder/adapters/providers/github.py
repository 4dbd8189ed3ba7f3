"""GitHubProvider: resolves gh/<user>/<repo>/<ref> to a commit through the GitHub REST API."""

from __future__ import annotations

from urllib.parse import quote

from skybinder.adapters.providers.base import RepoProvider, make_slug
from skybinder.adapters.providers.github_api import GitHubApi
from skybinder.adapters.providers.github_tree import GitHubTree
from skybinder.domain.errors import ProviderUnavailableError, ResolveError
from skybinder.domain.specs import GitHubSpec, is_sha1, parse_github
from skybinder.service.ports import ResolvedRepo

WEB_URL = "https://github.com"


class GitHubProvider(RepoProvider[GitHubSpec]):
    prefix = "gh"

    def __init__(self, api: GitHubApi) -> None:
        self.api = api

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

    def environment_reader(self, parsed: GitHubSpec, ref: str) -> GitHubTree:
        return GitHubTree(self.api, parsed.user, parsed.repo, ref)

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
        path = f"/repos/{parsed.user}/{parsed.repo}/commits/{quote(ref, safe='/')}"
        data = self.api.get_json(path)
        if data is None:
            return None
        sha = data.get("sha")
        if not isinstance(sha, str) or not is_sha1(sha):
            raise ProviderUnavailableError("GitHub sent an unexpected answer. Try again later.")
        return sha.lower()
