"""GistProvider: resolves gist/<user>/<gist-id>[/<revision>] through the GitHub gists API."""

from __future__ import annotations

from skybinder.adapters.providers.answers import unexpected
from skybinder.adapters.providers.base import RepoProvider, make_slug
from skybinder.adapters.providers.github_api import GitHubApi
from skybinder.domain.errors import ResolveError
from skybinder.domain.specs import GIST_LATEST, GistSpec, is_sha1, parse_gist
from skybinder.service.ports import ResolvedRepo

WEB_URL = "https://gist.github.com"


class GistProvider(RepoProvider[GistSpec]):
    """Gists are git repositories; their revisions are the commits in the gist's history."""

    prefix = "gist"

    def __init__(self, api: GitHubApi, *, allow_secret: bool = False) -> None:
        self.api = api
        self.allow_secret = allow_secret

    def parse(self, spec: str) -> GistSpec:
        return parse_gist(spec)

    def resolve_ref(self, parsed: GistSpec, notices: list[str]) -> str:
        gist = self.api.get_json(f"/gists/{parsed.gist_id}")
        if gist is None:
            raise ResolveError(
                f"Could not find gist {parsed.gist_id} of {parsed.user}: no such gist. Check "
                "the id in the gist's URL, gist.github.com/<user>/<id>."
            )
        if gist.get("public") is not True and not self.allow_secret:
            raise ResolveError(
                f"Gist {parsed.gist_id} is secret, and this binder launches only public gists "
                "(the operator can allow secret ones with allow_secret_gists).",
                status_code=403,
            )
        history = gist.get("history")
        versions = [entry.get("version") for entry in history or [] if isinstance(entry, dict)]
        if not versions or not all(isinstance(v, str) and is_sha1(v) for v in versions):
            raise unexpected("GitHub")
        if parsed.revision in ("", *GIST_LATEST):
            return str(versions[0]).lower()  # the API lists the newest revision first
        revision = parsed.revision.lower()
        if revision not in [str(v).lower() for v in versions]:
            raise ResolveError(
                f"Gist {parsed.gist_id} has no revision {parsed.revision}. Use HEAD for the "
                "newest, or a revision listed under the gist's Revisions tab."
            )
        return revision

    def describe(self, spec: str, parsed: GistSpec, ref: str) -> ResolvedRepo:
        repo_key = f"gist:{parsed.gist_id}".lower()
        return ResolvedRepo(
            provider=self.prefix,
            spec=spec,
            repo_url=f"{WEB_URL}/{parsed.user}/{parsed.gist_id}.git",
            ref=ref,
            ref_url=f"{WEB_URL}/{parsed.user}/{parsed.gist_id}/{ref}",
            resolved_spec=f"{parsed.user}/{parsed.gist_id}/{ref}",
            repo_key=repo_key,
            slug=make_slug("gist", f"{parsed.user}-{parsed.gist_id}", repo_key),
        )

    def display_config(self) -> dict[str, object] | None:
        return {
            "id": self.prefix,
            "displayName": "GitHub Gist",
            "spec": {"validateRegex": r"[^/]+/[^/]+(/[^/]+)?"},
            "repo": {
                "label": "Gist ID (username/gistId) or URL",
                "placeholder": "example: parente/5b1f6a8e4a2c4d3e9f0a1b2c3d4e5f60",
                "urlEncode": False,
            },
            "ref": {"enabled": True, "default": "HEAD"},
            "detect": {
                "regex": r"^(?:https?://gist\.github\.com/)?(?<repo>[^/\s]+/[0-9a-fA-F]+)"
                r"(?:/(?<ref>[0-9a-fA-F]{40}))?/?$"
            },
        }
