"""Ref resolution for git: smart HTTP against a fake server, and real local repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from skybinder.adapters.providers import ProviderResolver
from skybinder.adapters.providers.git import ADVERTISEMENT_TYPE, parse_advertisement
from skybinder.domain.errors import (
    ProviderUnavailableError,
    ResolveError,
    SpecError,
    UnsafeUrlError,
)
from tests.provider_fakes import FakeDns, host_of

MAIN = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
FEATURE = "b6589fc6ab0dc82cf12099d1c2d40ab994e8410c"
PR = "356a192b7913b04c54574d18c28d46e6395428ab"
LIGHT = "da4b9237bacccdf19c0760cab7aec4a8359010b0"
TAG_OBJECT = "77de68daecd823babbb58edb1c8e14d7106e83bb"
TAG_COMMIT = "1b6453892473a467d07372d45eb05abc2031647a"
SAME_BRANCH = "ac3478d69a3c81fa62e60f5c3696165a4e5e6ac4"
SAME_TAG = "c1dfd96eea8cc2b62785275bca38ac261256e278"
ZERO = "0" * 40


CAPABILITIES = (
    "multi_ack thin-pack side-band side-band-64k ofs-delta shallow deepen-since deepen-not "
    "deepen-relative no-progress include-tag multi_ack_detailed allow-tip-sha1-in-want "
    "allow-reachable-sha1-in-want no-done symref=HEAD:refs/heads/main filter "
    "object-format=sha1 agent=git/github-9d3a4e6c1f7b"
)
REFS = [
    (MAIN, "HEAD"),
    (FEATURE, "refs/heads/feature/x"),
    (MAIN, "refs/heads/main"),
    (SAME_BRANCH, "refs/heads/same"),
    (PR, "refs/pull/1/head"),
    (LIGHT, "refs/tags/light"),
    (SAME_TAG, "refs/tags/same"),
    (TAG_OBJECT, "refs/tags/v1.0"),
    (TAG_COMMIT, "refs/tags/v1.0^{}"),
]


def pkt(payload: str | bytes) -> bytes:
    """One pkt-line: four hex digits giving the length including themselves, then the data."""
    data = payload.encode() if isinstance(payload, str) else payload
    return b"%04x" % (len(data) + 4) + data


FLUSH = b"0000"


def advertisement(
    refs: list[tuple[str, str]], capabilities: str = CAPABILITIES, version: bool = False
) -> bytes:
    """A smart HTTP upload-pack advertisement, as GET .../info/refs?service=... returns it."""
    lines = [pkt("# service=git-upload-pack\n"), FLUSH]
    if version:
        lines.append(pkt("version 1\n"))
    for index, (sha, name) in enumerate(refs):
        lines.append(pkt(f"{sha} {name}\0{capabilities}\n" if index == 0 else f"{sha} {name}\n"))
    return b"".join(lines) + FLUSH


def test_pkt_lines_count_their_own_length_bytes() -> None:
    assert pkt("# service=git-upload-pack\n") == b"001e# service=git-upload-pack\n"
    assert pkt("") == b"0004"
    assert advertisement([]).endswith(b"0000" + b"0000")


class FakeGitServer:
    """Smart HTTP git hosting: serves the ref advertisement of each known repository."""

    def __init__(self) -> None:
        self.repos: dict[str, bytes] = {"example.org/u/r.git": advertisement(REFS)}
        self.overrides: dict[str, httpx.Response] = {}  # "host/path" -> canned response
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        where = f"{host_of(request)}{request.url.path}"
        if where in self.overrides:
            return self.overrides[where]
        repo = where.removesuffix("/info/refs")
        if request.url.params.get("service") == "git-upload-pack" and repo in self.repos:
            headers = {"Content-Type": ADVERTISEMENT_TYPE, "Cache-Control": "no-cache"}
            return httpx.Response(200, content=self.repos[repo], headers=headers)
        return httpx.Response(401, text="Unauthorized", headers={"WWW-Authenticate": "Basic"})


@pytest.fixture
def server() -> FakeGitServer:
    return FakeGitServer()


def git_resolver(server: FakeGitServer, allow_local: bool = False) -> ProviderResolver:
    client = httpx.Client(transport=httpx.MockTransport(server.handle))
    return ProviderResolver(client, allow_local, getaddrinfo=FakeDns())


def git_spec(url: str, ref: str) -> str:
    return f"{quote(url, safe='')}/{ref}"


@pytest.mark.parametrize(
    ("ref", "sha"),
    [
        ("HEAD", MAIN),
        ("main", MAIN),
        ("feature/x", FEATURE),
        ("v1.0", TAG_COMMIT),  # the commit of the annotated tag, not the tag object
        ("refs/tags/v1.0", TAG_COMMIT),
        ("light", LIGHT),
        ("refs/heads/main", MAIN),
        ("refs/pull/1/head", PR),
        ("same", SAME_BRANCH),  # a branch wins over a tag of the same name
        ("refs/tags/same", SAME_TAG),
    ],
)
def test_git_refs_resolve_from_the_advertisement(server: FakeGitServer, ref: str, sha: str) -> None:
    repo = git_resolver(server).resolve("git", git_spec("https://example.org/u/r.git", ref))
    assert repo.ref == sha
    [request] = server.requests
    assert request.url.path == "/u/r.git/info/refs"
    assert request.url.query == b"service=git-upload-pack"
    assert request.headers["User-Agent"].startswith("git/")


def test_git_head_follows_the_symref_when_no_head_line_is_sent(server: FakeGitServer) -> None:
    refs = [ref for ref in REFS if ref[1] != "HEAD"]
    symref = CAPABILITIES.replace("refs/heads/main", "refs/heads/feature/x")
    server.repos["example.org/u/r.git"] = advertisement(refs, symref, version=True)
    repo = git_resolver(server).resolve("git", git_spec("https://example.org/u/r.git", "HEAD"))
    assert repo.ref == FEATURE


def test_git_resolution_describes_the_repo(server: FakeGitServer) -> None:
    url = "https://example.org/u/r.git"
    repo = git_resolver(server).resolve("git", git_spec(url, "main") + "/")
    assert repo.provider == "git"
    assert repo.spec == git_spec(url, "main")
    assert (repo.repo_url, repo.ref_url) == (url, url)
    assert repo.resolved_spec == f"https%3A%2F%2Fexample.org%2Fu%2Fr.git/{MAIN}"
    assert repo.repo_key == f"git:{url}"
    assert repo.slug.startswith("git-example-org-u-r-")


def test_git_trailing_slash_in_the_url_is_not_doubled(server: FakeGitServer) -> None:
    server.repos["example.org/u/r"] = advertisement(REFS)
    git_resolver(server).resolve("git", git_spec("https://example.org/u/r/", "main"))
    assert server.requests[0].url.path == "/u/r/info/refs"


@pytest.mark.parametrize(("ref", "hint"), [("nope", ""), ("a94a8fe", "use all 40 characters")])
def test_git_unknown_ref_is_a_resolve_error(server: FakeGitServer, ref: str, hint: str) -> None:
    with pytest.raises(ResolveError) as caught:
        git_resolver(server).resolve("git", git_spec("https://example.org/u/r.git", ref))
    assert caught.value.message.startswith(
        f"Could not resolve ref '{ref}' of https://example.org/u/r.git: no such branch, tag or ref."
    )
    assert hint in caught.value.message


def test_advertisement_parsing_keeps_refs_peeled_tags_and_the_symref() -> None:
    refs = parse_advertisement(advertisement(REFS, version=True))
    assert refs.shas == {name: sha for sha, name in REFS if not name.endswith("^{}")}
    assert refs.peeled == {"refs/tags/v1.0": TAG_COMMIT}
    assert refs.head_target == "refs/heads/main"
    empty = parse_advertisement(advertisement([(ZERO, "capabilities^{}")]))
    assert (empty.shas, empty.peeled) == ({}, {})


def test_git_empty_repository_has_no_head(server: FakeGitServer) -> None:
    server.repos["example.org/u/r.git"] = advertisement([(ZERO, "capabilities^{}")])
    with pytest.raises(ResolveError, match="no such branch"):
        git_resolver(server).resolve("git", git_spec("https://example.org/u/r.git", "HEAD"))


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/u/r.git",
        "git://example.org/u/r.git",
        "ssh://git@example.org/u/r.git",
        "git@example.org:u/r.git",
    ],
)
def test_git_full_sha_is_used_without_asking_the_server(server: FakeGitServer, url: str) -> None:
    repo = git_resolver(server).resolve("git", git_spec(url, FEATURE.upper()))
    assert repo.ref == FEATURE
    assert server.requests == []


@pytest.mark.parametrize("url", ["git://example.org/u/r.git", "git@example.org:u/r.git"])
def test_git_and_ssh_urls_need_a_commit_sha(server: FakeGitServer, url: str) -> None:
    with pytest.raises(ResolveError, match="Use the full 40-character commit sha as the ref"):
        git_resolver(server).resolve("git", git_spec(url, "main"))
    assert server.requests == []


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (httpx.Response(404, text="Not Found"), ResolveError, "not found or not public"),
        (httpx.Response(403, text="Forbidden"), ResolveError, "not found or not public"),
        (httpx.Response(500, text="oops"), ProviderUnavailableError, "answered HTTP 500"),
        (httpx.Response(200, html="<html>Sign in</html>"), ResolveError, "did not answer as a git"),
        (
            httpx.Response(200, content=b"00zz", headers={"Content-Type": ADVERTISEMENT_TYPE}),
            ProviderUnavailableError,
            "malformed ref list",
        ),
        (
            httpx.Response(200, content=b"0030abc", headers={"Content-Type": ADVERTISEMENT_TYPE}),
            ProviderUnavailableError,
            "runs past the end",
        ),
    ],
)
def test_git_server_answers_map_to_clear_errors(
    server: FakeGitServer, response: httpx.Response, error: type[Exception], message: str
) -> None:
    server.overrides["example.org/u/r.git/info/refs"] = response
    with pytest.raises(error, match=message):
        git_resolver(server).resolve("git", git_spec("https://example.org/u/r.git", "main"))


def test_git_server_rate_limit_says_when_to_come_back(server: FakeGitServer) -> None:
    limited = httpx.Response(429, text="Too Many Requests", headers={"Retry-After": "90"})
    server.overrides["example.org/u/r.git/info/refs"] = limited
    with pytest.raises(ProviderUnavailableError) as caught:
        git_resolver(server).resolve("git", git_spec("https://example.org/u/r.git", "main"))
    assert caught.value.status_code == 429
    assert caught.value.message == (
        "The git server of https://example.org/u/r.git rate limit exceeded. Try again in 2 minutes."
    )


def test_git_missing_repository_asks_for_credentials_and_is_not_found(
    server: FakeGitServer,
) -> None:
    with pytest.raises(ResolveError) as caught:
        git_resolver(server).resolve("git", git_spec("https://example.org/u/other.git", "main"))
    assert "repository not found or not public (HTTP 401)" in caught.value.message
    assert caught.value.status_code == 404


def test_git_network_errors_are_provider_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    resolver = ProviderResolver(client, getaddrinfo=FakeDns())
    with pytest.raises(ProviderUnavailableError, match="Could not reach the git server"):
        resolver.resolve("git", git_spec("https://example.org/u/r.git", "main"))


def test_git_redirects_to_public_hosts_are_followed(server: FakeGitServer) -> None:
    moved = httpx.Response(
        301,
        headers={"Location": "https://new.example.org/u/r.git/info/refs?service=git-upload-pack"},
    )
    server.overrides["example.org/old.git/info/refs"] = moved
    server.repos["new.example.org/u/r.git"] = advertisement(REFS)
    repo = git_resolver(server).resolve("git", git_spec("https://example.org/old.git", "main"))
    assert repo.ref == MAIN
    assert repo.repo_url == "https://example.org/old.git"
    assert [host_of(r) for r in server.requests] == ["example.org", "new.example.org"]


def test_git_redirects_to_internal_hosts_are_refused(server: FakeGitServer) -> None:
    moved = httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    server.overrides["example.org/u/r.git/info/refs"] = moved
    with pytest.raises(UnsafeUrlError, match="on a local or private network") as caught:
        git_resolver(server).resolve("git", git_spec("https://example.org/u/r.git", "main"))
    assert caught.value.status_code == 400
    assert len(server.requests) == 1


def test_git_redirect_loops_end(server: FakeGitServer) -> None:
    loop = httpx.Response(302, headers={"Location": "/u/r.git/info/refs?service=git-upload-pack"})
    server.overrides["example.org/u/r.git/info/refs"] = loop
    with pytest.raises(ResolveError, match="redirects more than 3 times"):
        git_resolver(server).resolve("git", git_spec("https://example.org/u/r.git", "main"))
    assert len(server.requests) == 4


# --- real git repositories -----------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.org",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.org",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def local_repo(tmp_path: Path) -> Path:
    """A repository with main (two commits), a branch `feature` and an annotated tag v1.0."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "requirements.txt").write_text("numpy\n")
    git(path, "add", "requirements.txt")
    git(path, "commit", "-q", "-m", "first")
    git(path, "tag", "-a", "v1.0", "-m", "release 1.0")
    git(path, "commit", "-q", "--allow-empty", "-m", "second")
    git(path, "checkout", "-q", "-b", "feature")
    git(path, "commit", "-q", "--allow-empty", "-m", "feature work")
    git(path, "checkout", "-q", "main")
    return path


def test_git_advertisement_of_a_real_repository_resolves_like_git(
    server: FakeGitServer, local_repo: Path
) -> None:
    # What `git http-backend` would send: the service header, a flush, then upload-pack's refs.
    refs = subprocess.run(
        ["git", "upload-pack", "--advertise-refs", "--stateless-rpc", str(local_repo)],
        capture_output=True,
        check=True,
    ).stdout
    server.repos["example.org/u/r.git"] = pkt("# service=git-upload-pack\n") + FLUSH + refs
    resolver = git_resolver(server)
    for ref, rev in [("HEAD", "HEAD"), ("feature", "feature"), ("v1.0", "v1.0^{commit}")]:
        repo = resolver.resolve("git", git_spec("https://example.org/u/r.git", ref))
        assert repo.ref == git(local_repo, "rev-parse", rev), ref
    assert git(local_repo, "rev-parse", "v1.0") != git(local_repo, "rev-parse", "v1.0^{commit}")


@pytest.mark.parametrize(
    ("ref", "rev"), [("HEAD", "HEAD"), ("feature", "feature"), ("v1.0", "v1.0^{commit}")]
)
def test_local_repository_refs_resolve_with_git(
    server: FakeGitServer, local_repo: Path, ref: str, rev: str
) -> None:
    resolver = git_resolver(server, allow_local=True)
    by_path = resolver.resolve("git", git_spec(str(local_repo), ref))
    by_url = resolver.resolve("git", git_spec(local_repo.as_uri(), ref))
    assert by_path.ref == by_url.ref == git(local_repo, "rev-parse", rev)
    assert by_path.repo_url == by_url.repo_url == local_repo.as_uri()
    assert by_path.resolved_spec == f"{quote(local_repo.as_uri(), safe='')}/{by_path.ref}"
    assert server.requests == []


def test_local_repository_unknown_ref_is_a_resolve_error(local_repo: Path) -> None:
    resolver = git_resolver(FakeGitServer(), allow_local=True)
    with pytest.raises(ResolveError, match="Could not resolve ref 'nope'"):
        resolver.resolve("git", git_spec(str(local_repo), "nope"))


def test_local_missing_repository_is_a_resolve_error(tmp_path: Path) -> None:
    resolver = git_resolver(FakeGitServer(), allow_local=True)
    missing = tmp_path / "missing"
    with pytest.raises(ResolveError) as raised:
        resolver.resolve("git", git_spec(str(missing), "HEAD"))
    # git's own reason, not the last line of its advice ("and the repository exists.").
    assert raised.value.message == (
        f"Could not read the local repository {missing}: '{missing}' does not appear to be "
        "a git repository. Check the path; it must be a git repository."
    )
    assert raised.value.status_code == 404


def test_a_commit_a_local_repository_does_not_have_is_not_found(local_repo: Path) -> None:
    resolver = git_resolver(FakeGitServer(), allow_local=True)
    made_up = "0123456789" * 4
    with pytest.raises(ResolveError, match=f"has no commit {made_up}") as raised:
        resolver.resolve("git", git_spec(str(local_repo), made_up))
    assert raised.value.status_code == 404
    tree = git(local_repo, "rev-parse", "HEAD^{tree}")  # an object, but no commit
    with pytest.raises(ResolveError, match="has no commit"):
        resolver.resolve("git", git_spec(local_repo.as_uri(), tree))
    first = git(local_repo, "rev-parse", "main~1")  # on no branch tip: still a commit it has
    assert resolver.resolve("git", git_spec(local_repo.as_uri(), first.upper())).ref == first


def test_local_repositories_are_refused_outside_local_mode(local_repo: Path) -> None:
    with pytest.raises(SpecError, match="only in local mode"):
        git_resolver(FakeGitServer()).resolve("git", git_spec(str(local_repo), "HEAD"))
