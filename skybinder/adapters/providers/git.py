"""GitProvider: resolves git/<url-escaped clone URL>/<ref> over smart HTTP, or locally with git.

Over HTTP(S) the ref list comes from the git smart HTTP protocol's ref advertisement
(`GET <url>/info/refs?service=git-upload-pack`), read through SafeHttp (the SSRF guard), so no
git binary is needed (AWS Lambda has none). In local mode file:// URLs and local paths are read
with `git ls-remote`. git:// and ssh URLs are not contacted at all: they need a commit sha
(their host still passes the guard, since the builder will clone from it).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from skybinder.adapters.providers.answers import rate_limit_wait, rate_limited
from skybinder.adapters.providers.base import RepoProvider, make_slug
from skybinder.adapters.providers.guard import GIT_SCHEMES
from skybinder.adapters.providers.safe_http import SafeHttp
from skybinder.domain.environment import TreeReader
from skybinder.domain.errors import ProviderUnavailableError, ResolveError
from skybinder.domain.specs import GitSpec, is_sha1, parse_git
from skybinder.service.ports import ResolvedRepo

ADVERTISEMENT_TYPE = "application/x-git-upload-pack-advertisement"
# Some servers speak the smart protocol only to clients that introduce themselves as git.
HTTP_HEADERS = {"User-Agent": "git/2 (skybinder)", "Accept": "*/*"}
MAX_REDIRECTS = 3
ZERO_SHA = "0" * 40  # what an empty repository advertises
PKT_LENGTH = re.compile(rb"[0-9a-f]{4}")
SHORT_SHA = re.compile(r"[0-9a-fA-F]{4,39}")


class MalformedAdvertisementError(ValueError):
    """The server's ref advertisement does not follow the pkt-line format."""


@dataclass
class Refs:
    """The refs a repository advertises."""

    shas: dict[str, str] = field(default_factory=dict)  # ref name (and HEAD) -> sha
    peeled: dict[str, str] = field(default_factory=dict)  # annotated tag -> its commit
    head_target: str | None = None  # e.g. "refs/heads/main", from the symref capability

    def add(self, name: str, sha: str) -> None:
        if name.endswith("^{}"):
            self.peeled[name.removesuffix("^{}")] = sha
        else:
            self.shas[name] = sha

    def lookup(self, ref: str) -> str | None:
        """The commit `ref` names: HEAD, a full ref name, else a branch, else a tag."""
        if ref == "HEAD":
            target = self.head_target
            return self.shas.get("HEAD") or (self.shas.get(target) if target else None)
        # BinderHub took the first line of `git ls-remote <url> <ref>`, where refs/heads/
        # sorts before refs/tags/: a branch wins over a tag of the same name, as here.
        names = [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
        for name in names:
            sha = self.peeled.get(name) or self.shas.get(name)  # a tag's commit, not the tag
            if sha:
                return sha
        return None


def pkt_lines(data: bytes) -> Iterator[bytes | None]:
    """The pkt-lines of `data`; None stands for a flush-pkt (0000) or another special packet."""
    pos = 0
    while pos < len(data):
        head = data[pos : pos + 4]
        if not PKT_LENGTH.fullmatch(head):
            raise MalformedAdvertisementError(f"bad pkt-line length {head!r} at byte {pos}")
        length = int(head, 16)  # counts the four length bytes themselves
        if length < 4:  # 0000 flush, 0001 delimiter, 0002 response end
            yield None
            pos += 4
            continue
        if pos + length > len(data):
            raise MalformedAdvertisementError(f"pkt-line at byte {pos} runs past the end")
        yield data[pos + 4 : pos + length]
        pos += length


def parse_advertisement(data: bytes) -> Refs:
    """The refs of a smart HTTP upload-pack advertisement (protocol v0/v1)."""
    refs = Refs()
    for line in pkt_lines(data):
        if line is None or line.startswith(b"# service=") or line.startswith(b"version "):
            continue
        text, _, capabilities = line.rstrip(b"\n").decode("utf-8", "replace").partition("\0")
        for capability in capabilities.split():
            if capability.startswith("symref=HEAD:"):
                refs.head_target = capability.removeprefix("symref=HEAD:")
        sha, _, name = text.partition(" ")
        if not is_sha1(sha) or not name:
            raise MalformedAdvertisementError(f"bad ref line {text[:80]!r}")
        if sha != ZERO_SHA:
            refs.add(name, sha.lower())
    return refs


def parse_ls_remote(output: str) -> Refs:
    """The refs in `git ls-remote` output: "<sha>\\t<name>" lines."""
    refs = Refs()
    for line in output.splitlines():
        sha, _, name = line.partition("\t")
        if is_sha1(sha) and name:
            refs.add(name, sha.lower())
    return refs


class GitProvider(RepoProvider[GitSpec]):
    prefix = "git"

    def __init__(
        self, http: SafeHttp, *, allow_local: bool = False, git_timeout: float = 30.0
    ) -> None:
        self._http = http
        self._allow_local = allow_local
        self._git_timeout = git_timeout

    def parse(self, spec: str) -> GitSpec:
        return parse_git(spec, allow_local=self._allow_local)

    def resolve_ref(self, parsed: GitSpec, notices: list[str]) -> str:
        scheme = urlsplit(parsed.url).scheme
        if scheme != "file":
            # Checked even when nothing is fetched here: the builder will clone from this host.
            self._http.guard.check(parsed.url, GIT_SCHEMES)
        if is_sha1(parsed.ref) and scheme == "file":
            return self._local_commit(parsed.url, parsed.ref.lower())
        if is_sha1(parsed.ref):
            return parsed.ref.lower()
        if scheme in ("http", "https"):
            refs = self._http_refs(parsed.url)
        elif scheme == "file":
            refs = self._local_refs(parsed.url)
        else:
            raise ResolveError(
                f"Cannot resolve ref {parsed.ref!r} of {parsed.url}: this binder looks up refs "
                f"only over HTTP(S), not {scheme}://. Use the full 40-character commit sha as "
                "the ref for git:// and ssh URLs, e.g. git/<url-escaped URL>/<commit sha>."
            )
        sha = refs.lookup(parsed.ref)
        if sha is None:
            hint = ""
            if SHORT_SHA.fullmatch(parsed.ref):
                hint = " Short commit shas cannot be looked up; use all 40 characters."
            raise ResolveError(
                f"Could not resolve ref {parsed.ref!r} of {parsed.url}: no such branch, tag "
                f"or ref. Check the spelling; refs are case-sensitive.{hint}"
            )
        return sha

    def environment_reader(self, parsed: GitSpec, ref: str) -> TreeReader | None:
        # Over smart HTTP only, where every request passes the SSRF guard; git:// and ssh
        # URLs (and local paths) keep an image per commit.
        if urlsplit(parsed.url).scheme not in ("http", "https"):
            return None
        # Imported here: dulwich is needed only by binders that share images, and only for
        # plain git URLs; the launch function's cold start does not pay for it.
        from skybinder.adapters.providers.git_tree import GitTree

        return GitTree(self._http, parsed.url, ref)

    def describe(self, spec: str, parsed: GitSpec, ref: str) -> ResolvedRepo:
        parts = urlsplit(parsed.url)
        repo_key = f"git:{parsed.url}"
        return ResolvedRepo(
            provider=self.prefix,
            spec=spec,
            repo_url=parsed.url,
            ref=ref,
            ref_url=parsed.url,  # no web page is known for an arbitrary git server
            resolved_spec=f"{quote(parsed.url, safe='')}/{ref}",
            repo_key=repo_key,
            slug=make_slug(
                "git", f"{parts.hostname or ''}{parts.path}".removesuffix(".git"), repo_key
            ),
        )

    def display_config(self) -> dict[str, object] | None:
        return {
            "id": self.prefix,
            "displayName": "Git repository",
            "spec": {"validateRegex": r"[^/]+/.+"},
            "repo": {
                "label": "Arbitrary git repository URL",
                "placeholder": "example: https://git.example.com/repo.git",
                "urlEncode": True,
            },
            "ref": {"enabled": True, "default": "HEAD"},
        }

    def _http_refs(self, url: str) -> Refs:
        parts = urlsplit(url)
        info_refs = parts._replace(
            path=parts.path.rstrip("/") + "/info/refs", query="service=git-upload-pack", fragment=""
        )
        reply = self._http.get(
            urlunsplit(info_refs),
            what=f"the git server of {url}",
            headers=HTTP_HEADERS,
            max_redirects=MAX_REDIRECTS,
        )
        status = reply.status_code
        wait = rate_limit_wait(reply, time.time)
        if wait is not None:
            raise rate_limited(f"The git server of {url}", wait)
        if status in (401, 403, 404):  # servers ask for credentials rather than say "no such repo"
            raise ResolveError(
                f"Could not resolve {url}: repository not found or not public (HTTP {status}). "
                "Check the URL; only public repositories can be launched."
            )
        if status != 200:
            raise ProviderUnavailableError(
                f"The git server of {url} answered HTTP {status}. Try again in a few minutes."
            )
        if not reply.headers.get("content-type", "").startswith(ADVERTISEMENT_TYPE):
            raise ResolveError(
                f"{url} did not answer as a git repository (no smart HTTP ref list). Check the "
                "URL, or use the full 40-character commit sha as the ref."
            )
        try:
            return parse_advertisement(reply.content)
        except MalformedAdvertisementError as error:
            raise ProviderUnavailableError(
                f"The git server of {url} sent a malformed ref list ({error})."
            ) from error

    def _local_refs(self, url: str) -> Refs:
        path = unquote(urlsplit(url).path)
        # "--" ends git's options, so no path can be read as one.
        done = self._git(["ls-remote", "--", path])
        if done.returncode != 0:
            raise ResolveError(
                f"Could not read the local repository {path}: {_git_error(done.stderr)}. "
                "Check the path; it must be a git repository."
            )
        return parse_ls_remote(done.stdout)

    def _local_commit(self, url: str, sha: str) -> str:
        """`sha` when the local repository at `url` has that commit; else ResolveError (404),
        before anything is built."""
        self._local_refs(url)  # a repository, readable: or a clear error
        path = unquote(urlsplit(url).path)
        done = self._git(["-C", path, "cat-file", "-e", f"{sha}^{{commit}}"])
        if done.returncode != 0:
            raise ResolveError(
                f"The local repository {path} has no commit {sha}. Check the commit sha, or "
                "use a branch or tag name."
            )
        return sha

    def _git(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        # GIT_ALLOW_PROTOCOL keeps git from reaching any other transport, the prompt setting
        # from waiting for input.
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": "file"}
        try:
            return subprocess.run(
                ["git", *args],
                capture_output=True,
                encoding="utf-8",
                errors="replace",
                env=env,
                timeout=self._git_timeout,
                check=False,
            )
        except FileNotFoundError as error:
            raise ProviderUnavailableError(
                "Local repositories need git, which is not installed."
            ) from error
        except subprocess.TimeoutExpired as error:
            raise ProviderUnavailableError(
                f"git {args[0]} took longer than {self._git_timeout:g} seconds."
            ) from error


def _git_error(stderr: str) -> str:
    """git's own reason, from its first `fatal:` line (the advice after it says nothing about
    this repository), without a trailing period."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line.removeprefix("fatal:").strip() for line in lines if line.startswith("fatal:")]
    reason = (fatal or lines or ["git could not read it"])[0]
    return reason.rstrip(".")
