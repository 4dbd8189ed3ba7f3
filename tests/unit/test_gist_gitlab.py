"""gist and gl: resolution, not found, rate limits and redirects against recorded API answers."""

from __future__ import annotations

import re

import httpx
import pytest

from skybinder.domain.errors import (
    ProviderUnavailableError,
    ResolveError,
    SpecError,
    UnsafeUrlError,
)
from skybinder.domain.repo_policy import ProviderSettings
from tests.provider_fakes import NOW, FakeDns, Web, make_resolver

NEWEST = "57a7f021a713b1c5a6a199b54cc514735d2d462f"
OLDER = "3e8c4c2bb1d1a1b2b8f35ba7f1b9a6e0d5c4b3a2"
GIST = "aa5a315d61ae9438b18d"
SHA = "6104942438c14ec7bd21c6cd5bd995272b3faff6"
GISTS_API = f"https://api.github.com/gists/{GIST}"
GITLAB_API = "https://gitlab.com/api/v4/projects"


def gist_answer(public: bool = True) -> dict[str, object]:
    """GET /gists/{id}, shortened from GitHub's REST documentation."""
    revision = {
        "user": {"login": "octocat", "id": 1},
        "committed_at": "2010-04-14T02:15:15Z",
        "change_status": {"deletions": 0, "additions": 180, "total": 180},
    }
    return {
        "url": GISTS_API,
        "id": GIST,
        "git_pull_url": f"https://gist.github.com/{GIST}.git",
        "html_url": f"https://gist.github.com/{GIST}",
        "files": {"hello_world.rb": {"filename": "hello_world.rb", "language": "Ruby"}},
        "public": public,
        "owner": {"login": "octocat", "id": 1},
        "history": [
            {**revision, "version": NEWEST, "url": f"{GISTS_API}/{NEWEST}"},
            {**revision, "version": OLDER, "url": f"{GISTS_API}/{OLDER}"},
        ],
    }


@pytest.fixture
def web() -> Web:
    web = Web()
    web.json(GISTS_API, gist_answer())
    return web


@pytest.mark.parametrize("revision", ["", "/HEAD", "/master", "/main"])
def test_gist_without_a_revision_is_its_newest(web: Web, revision: str) -> None:
    repo = make_resolver(web).resolve("gist", f"octocat/{GIST}{revision}")
    assert repo.ref == NEWEST
    assert repo.repo_url == f"https://gist.github.com/octocat/{GIST}.git"
    assert repo.ref_url == f"https://gist.github.com/octocat/{GIST}/{NEWEST}"
    assert repo.resolved_spec == f"octocat/{GIST}/{NEWEST}"
    assert repo.repo_key == f"gist:{GIST}"
    assert repo.slug.startswith("gist-octocat-aa5a315d")


def test_gist_revision_is_kept_when_the_gist_has_it(web: Web) -> None:
    assert make_resolver(web).resolve("gist", f"octocat/{GIST}/{OLDER.upper()}").ref == OLDER


def test_gist_unknown_revision_is_not_found(web: Web) -> None:
    with pytest.raises(ResolveError, match=f"has no revision {'b' * 40}"):
        make_resolver(web).resolve("gist", f"octocat/{GIST}/{'b' * 40}")


def test_gist_that_does_not_exist_is_not_found() -> None:
    with pytest.raises(ResolveError, match="no such gist") as caught:
        make_resolver(Web()).resolve("gist", f"octocat/{GIST}")
    assert caught.value.status_code == 404


def test_secret_gists_launch_only_when_the_operator_allows_them() -> None:
    web = Web()
    web.json(GISTS_API, gist_answer(public=False))
    with pytest.raises(ResolveError, match="is secret") as caught:
        make_resolver(web).resolve("gist", f"octocat/{GIST}")
    assert caught.value.status_code == 403
    allowing = make_resolver(web, settings=ProviderSettings(allow_secret_gists=True))
    assert allowing.resolve("gist", f"octocat/{GIST}").ref == NEWEST


def test_gist_rate_limit_and_token(web: Web) -> None:
    web.json(
        GISTS_API,
        {"message": "API rate limit exceeded for 198.51.100.7."},
        status=403,
        **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW + 300))},
    )
    with pytest.raises(ProviderUnavailableError) as caught:
        make_resolver(web, token="ghp_x").resolve("gist", f"octocat/{GIST}")
    assert caught.value.status_code == 429
    assert caught.value.message == "GitHub rate limit exceeded. Try again in 5 minutes."
    assert web.requests[0].headers["authorization"] == "token ghp_x"


def test_gist_api_redirects_are_followed(web: Web) -> None:
    web.redirect(f"https://api.github.com/gists/{'c' * 20}", GISTS_API, status=301)
    assert make_resolver(web).resolve("gist", f"octocat/{'c' * 20}").ref == NEWEST


# --- GitLab --------------------------------------------------------------------------------


def commit_answer(sha: str = SHA) -> dict[str, object]:
    """GET /projects/:id/repository/commits/:sha, shortened from GitLab's API documentation."""
    return {
        "id": sha,
        "short_id": sha[:11],
        "title": "Sanitize for network graph",
        "author_name": "randx",
        "created_at": "2021-09-20T09:06:12.300+03:00",
        "parent_ids": ["ae1d9fb46aa2b07ee9836d49862ec4e2c46fbbba"],
        "web_url": f"https://gitlab.com/janedoe/gitlab-foss/-/commit/{sha}",
    }


@pytest.mark.parametrize(
    ("spec", "api_path", "namespace"),
    [
        ("janedoe%2Fgitlab-foss/main", "janedoe%2Fgitlab-foss/repository/commits/main", None),
        (
            "group%2Fsub%2Fproject.git/feature%2Fx",
            "group%2Fsub%2Fproject/repository/commits/feature%2Fx",
            "group/sub/project",
        ),
        (
            "https%3A%2F%2Fgitlab.com%2Fgroup%2Fsub%2Fproject/HEAD",
            "group%2Fsub%2Fproject/repository/commits/HEAD",
            "group/sub/project",
        ),
    ],
)
def test_gitlab_com_refs_resolve(spec: str, api_path: str, namespace: str | None) -> None:
    web = Web()
    web.json(f"{GITLAB_API}/{api_path}", commit_answer())
    repo = make_resolver(web).resolve("gl", spec)
    namespace = namespace or "janedoe/gitlab-foss"
    assert repo.ref == SHA
    assert repo.repo_url == f"https://gitlab.com/{namespace}.git"
    assert repo.ref_url == f"https://gitlab.com/{namespace}/-/tree/{SHA}"
    assert repo.resolved_spec == f"{spec.split('/')[0]}/{SHA}"
    assert repo.repo_key == f"gl:gitlab.com/{namespace}"
    assert web.urls() == [f"{GITLAB_API}/{api_path}"]


def test_gitlab_self_hosted_needs_the_host_configured() -> None:
    web = Web()
    api = "https://gitlab.example.org/api/v4/projects/grp%2Fproj/repository/commits/v1.0"
    web.json(api, commit_answer())
    spec = "https%3A%2F%2Fgitlab.example.org%2Fgrp%2Fproj%2F-%2Ftree%2Fmain/v1.0"
    with pytest.raises(SpecError, match="not a GitLab this binder knows") as caught:
        make_resolver(web).resolve("gl", spec)
    assert "gitlab_hosts" in caught.value.message and web.requests == []
    settings = ProviderSettings(gitlab_hosts=["GitLab.Example.org"])
    repo = make_resolver(web, settings=settings).resolve("gl", spec)
    assert repo.repo_url == "https://gitlab.example.org/grp/proj.git"
    assert repo.repo_key == "gl:gitlab.example.org/grp/proj"


def test_gitlab_self_hosted_on_a_private_network_is_refused_in_the_cloud() -> None:
    dns = FakeDns({"gitlab.corp.example": ["10.20.30.40"]})
    settings = ProviderSettings(gitlab_hosts=["gitlab.corp.example"])
    resolver = make_resolver(Web(), dns=dns, settings=settings)
    with pytest.raises(UnsafeUrlError):
        resolver.resolve("gl", "https%3A%2F%2Fgitlab.corp.example%2Fg%2Fp/main")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"message": "404 Project Not Found"}),
        (404, {"message": "404 Commit Not Found"}),
        (401, {"message": "401 Unauthorized"}),
        (403, {"message": "403 Forbidden"}),
    ],
)
def test_gitlab_missing_or_private_is_not_found(status: int, body: dict[str, str]) -> None:
    web = Web()
    web.json(f"{GITLAB_API}/g%2Fp/repository/commits/main", body, status=status)
    with pytest.raises(
        ResolveError, match=re.escape("Could not resolve ref 'main' of gitlab.com/g/p")
    ):
        make_resolver(web).resolve("gl", "g%2Fp/main")


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "120"}, "2 minutes"),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(NOW + 30))}, "1 minute"),
    ],
)
def test_gitlab_rate_limit_says_when_to_come_back(headers: dict[str, str], wait: str) -> None:
    web = Web()
    url = f"{GITLAB_API}/g%2Fp/repository/commits/main"
    web.add(url, httpx.Response(429, text="Retry later", headers=headers))
    with pytest.raises(ProviderUnavailableError) as caught:
        make_resolver(web).resolve("gl", "g%2Fp/main")
    assert caught.value.status_code == 429
    assert caught.value.message == f"GitLab (gitlab.com) rate limit exceeded. Try again in {wait}."


def test_gitlab_moved_project_redirect_is_followed() -> None:
    web = Web()
    old = f"{GITLAB_API}/old%2Fp/repository/commits/main"
    new = f"{GITLAB_API}/new%2Fp/repository/commits/main"
    web.redirect(old, new, status=301)
    web.json(new, commit_answer())
    assert make_resolver(web).resolve("gl", "old%2Fp/main").ref == SHA


def test_gitlab_server_errors_are_unavailable() -> None:
    web = Web()
    web.add(f"{GITLAB_API}/g%2Fp/repository/commits/main", httpx.Response(502, text="Bad"))
    with pytest.raises(ProviderUnavailableError, match="answered HTTP 502") as caught:
        make_resolver(web).resolve("gl", "g%2Fp/main")
    assert caught.value.status_code == 503
