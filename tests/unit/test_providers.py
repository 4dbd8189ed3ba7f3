"""Ref resolution for gh, ProviderResolver and slugs; no network (git: test_git_provider.py)."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from skybinder.adapters.providers import ProviderResolver, make_slug
from skybinder.domain.errors import (
    ProviderUnavailableError,
    ResolveError,
    SpecError,
    UnknownProviderError,
    UnsafeUrlError,
)
from tests.provider_fakes import FakeDns, Web, make_resolver

NOW = 1_760_000_000.0
MAIN = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
FEATURE = "b6589fc6ab0dc82cf12099d1c2d40ab994e8410c"
PR = "356a192b7913b04c54574d18c28d46e6395428ab"


# --- GitHub ------------------------------------------------------------------------------


class FakeGitHub:
    """The commits endpoint of the GitHub API for a few repositories; records every request."""

    def __init__(self) -> None:
        self.commits: dict[tuple[str, str], dict[str, str]] = {}  # (user, repo) -> ref -> sha
        self.requests: list[httpx.Request] = []
        self.override: httpx.Response | None = None  # served instead of the lookup

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.override is not None:
            return self.override
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)/commits/(.+)", request.url.path)
        assert match, request.url
        user, repo, ref = match.groups()
        docs = "https://docs.github.com/rest/commits/commits#get-a-commit"
        if (user, repo) not in self.commits:
            return httpx.Response(
                404, json={"message": "Not Found", "documentation_url": docs, "status": "404"}
            )
        sha = self.commits[user, repo].get(ref)
        if sha is None:
            body = {"message": f"No commit found for SHA: {ref}", "documentation_url": docs}
            return httpx.Response(422, json={**body, "status": "422"})
        return httpx.Response(
            200,
            json={
                "sha": sha,
                "node_id": "C_kwDOAbCdEf2gAoOWE0YThmZTVjY2IxOWJhNjFjNGMwODcz",
                "commit": {"message": "Update README.md", "tree": {"sha": PR}},
                "html_url": f"https://github.com/{user}/{repo}/commit/{sha}",
            },
            headers={"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "57"},
        )


@pytest.fixture
def github() -> FakeGitHub:
    fake = FakeGitHub()
    fake.commits["binder-examples", "requirements"] = {"HEAD": MAIN, "main": MAIN, "v1/x": PR}
    return fake


def gh_resolver(github: FakeGitHub, token: str | None = None) -> ProviderResolver:
    client = httpx.Client(transport=httpx.MockTransport(github.handle))
    return ProviderResolver(client, github_token=token, now=lambda: NOW, getaddrinfo=FakeDns())


def test_github_ref_resolves_to_the_commit_and_describes_the_repo(github: FakeGitHub) -> None:
    repo = gh_resolver(github).resolve("gh", "binder-examples/requirements.git/main/")
    assert repo.ref == MAIN
    assert repo.spec == "binder-examples/requirements.git/main"
    assert repo.repo_url == "https://github.com/binder-examples/requirements"
    assert repo.ref_url == f"https://github.com/binder-examples/requirements/tree/{MAIN}"
    assert repo.resolved_spec == f"binder-examples/requirements/{MAIN}"
    assert repo.repo_key == "gh:binder-examples/requirements"
    assert repo.slug.startswith("gh-binder-examples-requirements-")
    assert repo.notices == []
    assert [r.url.path for r in github.requests] == [
        "/repos/binder-examples/requirements/commits/main"
    ]


def test_github_repo_key_ignores_case_as_github_does(github: FakeGitHub) -> None:
    github.commits["Binder-Examples", "Requirements"] = {"HEAD": MAIN}
    repo = gh_resolver(github).resolve("gh", "Binder-Examples/Requirements/HEAD")
    assert repo.repo_key == "gh:binder-examples/requirements"
    assert repo.repo_url == "https://github.com/Binder-Examples/Requirements"


def test_github_refs_with_slashes_and_special_characters_reach_the_api(
    github: FakeGitHub,
) -> None:
    resolver = gh_resolver(github)
    assert resolver.resolve("gh", "binder-examples/requirements/v1%2Fx").ref == PR
    with pytest.raises(ResolveError):
        resolver.resolve("gh", "binder-examples/requirements/a%23b")
    assert github.requests[-1].url.raw_path.endswith(b"/commits/a%23b")


@pytest.mark.parametrize(
    ("spec", "status"),
    [("binder-examples/nope/HEAD", 404), ("binder-examples/requirements/nope", 422)],
)
def test_github_missing_repo_or_ref_is_a_resolve_error(
    github: FakeGitHub, spec: str, status: int
) -> None:
    with pytest.raises(ResolveError) as caught:
        gh_resolver(github).resolve("gh", spec)
    user, repo, ref = spec.split("/")
    assert caught.value.status_code == 404
    assert caught.value.message.startswith(
        f"Could not resolve ref '{ref}' of github.com/{user}/{repo}: no such repository, "
        "branch, tag or commit. Check the URL"
    )
    assert [r.url.path.split("/")[-1] for r in github.requests] == [ref]


def test_github_master_that_does_not_exist_is_retried_as_head(github: FakeGitHub) -> None:
    repo = gh_resolver(github).resolve("gh", "binder-examples/requirements/master")
    assert repo.ref == MAIN
    assert repo.notices == ["Ref 'master' not found, trying HEAD (the default branch)..."]
    assert [r.url.path.split("/")[-1] for r in github.requests] == ["master", "HEAD"]


def test_github_master_of_a_missing_repo_reports_master(github: FakeGitHub) -> None:
    with pytest.raises(ResolveError, match=r"Could not resolve ref 'master' of github\.com/u/r:"):
        gh_resolver(github).resolve("gh", "u/r/master")


def test_github_existing_master_is_not_retried(github: FakeGitHub) -> None:
    github.commits["binder-examples", "requirements"]["master"] = FEATURE
    repo = gh_resolver(github).resolve("gh", "binder-examples/requirements/master")
    assert (repo.ref, repo.notices, len(github.requests)) == (FEATURE, [], 1)


def test_github_token_is_sent_when_configured(github: FakeGitHub) -> None:
    gh_resolver(github, token="ghp_secret").resolve("gh", "binder-examples/requirements/HEAD")
    gh_resolver(github).resolve("gh", "binder-examples/requirements/HEAD")
    assert github.requests[0].headers["Authorization"] == "token ghp_secret"
    assert "Authorization" not in github.requests[1].headers


def rate_limited(reset: float, status: int = 403) -> httpx.Response:
    body = {
        "message": "API rate limit exceeded for 198.51.100.7. (But here's the good news: "
        "Authenticated requests get a higher rate limit.)",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
    }
    headers = {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(reset)),
        "X-RateLimit-Resource": "core",
    }
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "reset", "minutes"),
    [(403, NOW + 600, "10 minutes"), (429, NOW + 601, "11 minutes"), (403, NOW + 30, "1 minute")],
)
def test_github_rate_limit_says_when_to_come_back(
    github: FakeGitHub, status: int, reset: float, minutes: str
) -> None:
    github.override = rate_limited(reset, status)
    with pytest.raises(ProviderUnavailableError) as caught:
        gh_resolver(github).resolve("gh", "binder-examples/requirements/HEAD")
    assert caught.value.status_code == 429
    assert caught.value.message == (
        f"GitHub rate limit exceeded. Try again in {minutes}, "
        "or set a GitHub token for this binder."
    )


def test_github_rate_limit_with_a_token_does_not_suggest_one(github: FakeGitHub) -> None:
    github.override = rate_limited(NOW + 120)
    with pytest.raises(ProviderUnavailableError) as caught:
        gh_resolver(github, token="ghp_x").resolve("gh", "binder-examples/requirements/HEAD")
    assert caught.value.message == "GitHub rate limit exceeded. Try again in 2 minutes."


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(403, json={"message": "Forbidden"}),  # forbidden, but no rate limit
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json={"sha": "not-a-sha"}),
    ],
)
def test_github_failures_are_provider_unavailable(
    github: FakeGitHub, response: httpx.Response
) -> None:
    github.override = response
    with pytest.raises(ProviderUnavailableError) as caught:
        gh_resolver(github).resolve("gh", "binder-examples/requirements/HEAD")
    assert caught.value.status_code == 503


def test_github_network_errors_are_provider_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    resolver = ProviderResolver(client, getaddrinfo=FakeDns())
    with pytest.raises(ProviderUnavailableError, match="Could not reach GitHub"):
        resolver.resolve("gh", "binder-examples/requirements/HEAD")


def test_github_malformed_spec_fails_before_any_request(github: FakeGitHub) -> None:
    with pytest.raises(SpecError):
        gh_resolver(github).resolve("gh", "binder-examples/requirements")
    assert github.requests == []


# --- ProviderResolver ----------------------------------------------------------------------


def test_resolver_holds_all_nine_providers_in_binderhubs_order() -> None:
    resolver = ProviderResolver(httpx.Client())
    assert [p.prefix for p in resolver.providers] == [
        "gh", "gist", "gl", "git", "zenodo", "figshare", "dataverse", "hydroshare", "ckan",
    ]  # fmt: skip
    assert sorted(resolver.data_providers()) == [
        "ckan",
        "dataverse",
        "figshare",
        "hydroshare",
        "zenodo",
    ]


def test_display_configs_describe_every_provider() -> None:
    configs = ProviderResolver(httpx.Client()).display_configs()
    assert [c["id"] for c in configs] == [
        "gh", "gist", "gl", "git", "zenodo", "figshare", "dataverse", "hydroshare", "ckan",
    ]  # fmt: skip
    for config in json.loads(json.dumps(configs)):
        assert set(config) >= {"id", "displayName", "spec", "repo", "ref"}
        assert set(config["spec"]) == {"validateRegex"}
        re.compile(config["spec"]["validateRegex"])
        assert set(config["repo"]) == {"label", "placeholder", "urlEncode"}
        git_based = config["id"] in ("gh", "gist", "gl", "git")
        expected_ref = {"enabled": True, "default": "HEAD"} if git_based else {"enabled": False}
        assert config["ref"] == expected_ref
    encoded = {c["id"] for c in configs if c["repo"]["urlEncode"]}  # type: ignore[index]
    assert encoded == {"gl", "git", "ckan"}


MALFORMED = [
    ("gist", "parente/not-hex"),
    ("gl", "group/project/main"),
    ("zenodo", "10.5281/zenodo.x"),
    ("figshare", "10.6084/figshare"),
    ("dataverse", "10.7910"),
    ("hydroshare", "b8f6"),
    ("ckan", "https%3A%2F%2Fdemo.ckan.org%2Fd1"),
]


@pytest.mark.parametrize(("provider", "malformed"), MALFORMED)
def test_malformed_specs_fail_before_any_request(
    github: FakeGitHub, provider: str, malformed: str
) -> None:
    with pytest.raises(SpecError) as caught:
        gh_resolver(github).resolve(provider, malformed)
    assert caught.value.status_code == 400
    assert github.requests == []


def test_resolver_refuses_unknown_providers() -> None:
    with pytest.raises(UnknownProviderError, match="No provider found for prefix 'svn'"):
        ProviderResolver(httpx.Client()).resolve("svn", "x/HEAD")


# --- slugs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "identity"),
    [
        ("binder-examples-requirements", "gh:binder-examples/requirements"),
        ("Über__Repo..Name", "git:https://example.org/Über__Repo..Name"),
        ("x" * 200, "git:https://example.org/" + "x" * 200),
        ("---", "gh:-/-"),
    ],
)
def test_slugs_are_docker_safe_and_short(name: str, identity: str) -> None:
    slug = make_slug("gh", name, identity)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug
    assert len(slug) <= 40
    assert slug == make_slug("gh", name, identity)


def test_slugs_of_different_repositories_differ_even_when_names_collide() -> None:
    assert make_slug("gh", "a.b-c", "gh:a.b/c") != make_slug("gh", "a-b.c", "gh:a-b/c")
    long_a, long_b = "x" * 100 + "a", "x" * 100 + "b"
    assert make_slug("git", long_a, long_a) != make_slug("git", long_b, long_b)
    assert (
        make_slug("gh", "binder-examples-requirements", "gh:binder-examples/requirements")[:-9]
        == "gh-binder-examples-requirements"
    )


def test_github_renamed_repository_redirect_is_followed() -> None:
    web = Web()
    old = "https://api.github.com/repos/old-name/repo/commits/HEAD"
    new = "https://api.github.com/repositories/1296269/commits/HEAD"
    web.redirect(old, new, status=301)
    web.json(new, {"sha": MAIN})
    repo = make_resolver(web).resolve("gh", "old-name/repo/HEAD")
    assert repo.ref == MAIN
    assert web.urls() == [old, new]


def test_github_redirect_off_api_github_com_to_an_internal_host_is_refused() -> None:
    web = Web()
    web.redirect(
        "https://api.github.com/repos/u/r/commits/HEAD", "http://169.254.169.254/latest/", 302
    )
    with pytest.raises(UnsafeUrlError):
        make_resolver(web).resolve("gh", "u/r/HEAD")
