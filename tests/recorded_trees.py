"""GitHub and GitLab serving repositories' trees and files, in the shapes of their real APIs.

A repository here is a dict of commits (sha -> {path: content}); the fakes answer the calls a
resolution with environment keys makes, from that content, with real git blob ids:

- GitHub: `GET /repos/{o}/{r}/commits/{ref}`, `GET /repos/{o}/{r}/git/trees/{sha}` (a commit
  sha names its root tree) and `https://raw.githubusercontent.com/{o}/{r}/{commit}/{path}`;
- GitLab: `GET /api/v4/projects/{id}/repository/commits/{ref}`,
  `GET .../repository/tree?ref=&path=&per_page=&page=` (paginated, `x-next-page`) and
  `GET .../repository/blobs/{sha}/raw`.

Entry shapes follow the APIs' documentation (GitHub: path, mode, type, sha, size, url;
`truncated`; GitLab: id, name, type, path, mode). A content starting with "link:" is a
symbolic link (mode 120000), "submodule:" a submodule (mode 160000, type commit).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from skybinder.domain.environment import blob_id
from tests.provider_fakes import host_of

Files = Mapping[str, str]


def _mode_type(content: str) -> tuple[str, str]:
    if content.startswith("link:"):
        return "120000", "blob"
    if content.startswith("submodule:"):
        return "160000", "commit"
    return "100644", "blob"


def _data(content: str) -> bytes:
    return content.removeprefix("link:").encode()


def folder(files: Files, path: str) -> list[dict[str, object]]:
    """The entries of the folder `path` ("" for the root) of a commit's files."""
    prefix = f"{path}/" if path else ""
    seen: dict[str, dict[str, object]] = {}
    for name, content in sorted(files.items()):
        if not name.startswith(prefix):
            continue
        head, _, rest = name[len(prefix) :].partition("/")
        full = prefix + head
        if rest:
            seen[head] = {
                "path": full,
                "mode": "040000",
                "type": "tree",
                "sha": tree_id(files, full),
            }
            continue
        mode, kind = _mode_type(content)
        sha = content.removeprefix("submodule:") if kind == "commit" else blob_id(_data(content))
        seen[head] = {"path": full, "mode": mode, "type": kind, "sha": sha, "size": len(content)}
    return list(seen.values())


def tree_id(files: Files, path: str) -> str:
    """A stable id for a folder of a commit (the fakes look folders up by it)."""
    inside = sorted((n, c) for n, c in files.items() if n.startswith(f"{path}/"))
    return hashlib.sha1(repr((path, inside)).encode(), usedforsecurity=False).hexdigest()


def _url(api: str, entry: dict[str, object]) -> str:
    return f"{api}/{'trees' if entry['type'] == 'tree' else 'blobs'}/{entry['sha']}"


class RecordedGitHub:
    """api.github.com and raw.githubusercontent.com for a few repositories."""

    def __init__(self) -> None:
        self.commits: dict[tuple[str, str], dict[str, Files]] = {}  # (owner, repo) -> sha -> files
        self.refs: dict[tuple[str, str], dict[str, str]] = {}  # (owner, repo) -> ref -> sha
        self.requests: list[str] = []
        self.down = False  # every answer a 502

    def add(self, owner: str, repo: str, sha: str, files: Files, *refs: str) -> str:
        self.commits.setdefault((owner, repo), {})[sha] = dict(files)
        for ref in (sha, *refs):
            self.refs.setdefault((owner, repo), {})[ref] = sha
        return sha

    def handle(self, request: httpx.Request) -> httpx.Response:
        host, path = host_of(request), unquote(request.url.path)
        self.requests.append(f"{host}{path}")
        if self.down:
            return httpx.Response(502, text="Bad Gateway")
        if host == "raw.githubusercontent.com":
            return self._raw(path)
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)/(commits|git/trees)/(.+)", path)
        if host != "api.github.com" or match is None:
            return httpx.Response(404, json={"message": "Not Found"})
        owner, repo, what, ref = match.groups()
        commits = self.commits.get((owner, repo), {})
        if what == "commits":
            sha = self.refs.get((owner, repo), {}).get(ref)
            if sha is None:
                return httpx.Response(422, json={"message": f"No commit found for SHA: {ref}"})
            return httpx.Response(200, json={"sha": sha, "commit": {"message": "m"}})
        return self._tree(owner, repo, commits, ref)

    def _tree(self, owner: str, repo: str, commits: dict[str, Files], sha: str) -> httpx.Response:
        for commit, files in commits.items():
            for path in ["", *{n.rsplit("/", 1)[0] for n in files if "/" in n}]:
                if (path == "" and sha == commit) or (path and tree_id(files, path) == sha):
                    api = f"https://api.github.com/repos/{owner}/{repo}/git"
                    entries = [{**e, "url": _url(api, e)} for e in folder(files, path)]
                    body = {"sha": sha, "url": f"{api}/trees/{sha}", "tree": entries}
                    return httpx.Response(200, json={**body, "truncated": False})
        return httpx.Response(404, json={"message": "Not Found"})

    def _raw(self, path: str) -> httpx.Response:
        owner, repo, commit, name = path.lstrip("/").split("/", 3)
        content = self.commits.get((owner, repo), {}).get(commit, {}).get(name)
        if content is None:
            return httpx.Response(404, text="404: Not Found")
        return httpx.Response(200, content=_data(content), headers={"Content-Type": "text/plain"})

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))


class RecordedGitLab:
    """gitlab.com's repository API for a few projects; `per_page` as asked (GitLab caps 100)."""

    def __init__(self) -> None:
        self.commits: dict[str, dict[str, Files]] = {}  # namespace -> sha -> files
        self.refs: dict[str, dict[str, str]] = {}
        self.requests: list[str] = []

    def add(self, namespace: str, sha: str, files: Files, *refs: str) -> str:
        self.commits.setdefault(namespace, {})[sha] = dict(files)
        for ref in (sha, *refs):
            self.refs.setdefault(namespace, {})[ref] = sha
        return sha

    def handle(self, request: httpx.Request) -> httpx.Response:
        raw = request.url.raw_path.decode()
        self.requests.append(f"{host_of(request)}{raw}")
        path, query = urlsplit(raw).path, parse_qs(urlsplit(raw).query)
        match = re.fullmatch(r"/api/v4/projects/([^/]+)/repository/(.+)", path)
        if match is None:
            return httpx.Response(404, json={"message": "404 Not Found"})
        namespace, rest = unquote(match.group(1)), match.group(2)
        commits = self.commits.get(namespace)
        if commits is None:
            return httpx.Response(404, json={"message": "404 Project Not Found"})
        if rest.startswith("commits/"):
            sha = self.refs[namespace].get(unquote(rest.removeprefix("commits/")))
            if sha is None:
                return httpx.Response(404, json={"message": "404 Commit Not Found"})
            return httpx.Response(200, json={"id": sha, "short_id": sha[:8], "title": "m"})
        if rest == "tree":
            return self._tree(commits, query)
        blob = re.fullmatch(r"blobs/([0-9a-f]{40})/raw", rest)
        for files in commits.values():
            for content in files.values():
                if blob and blob_id(_data(content)) == blob.group(1):
                    return httpx.Response(200, content=_data(content))
        return httpx.Response(404, json={"message": "404 Not Found"})

    def _tree(self, commits: dict[str, Files], query: dict[str, list[str]]) -> httpx.Response:
        files = commits.get(query["ref"][0])
        if files is None:
            return httpx.Response(404, json={"message": "404 Tree Not Found"})
        path = query.get("path", [""])[0]
        entries = [
            {"id": e["sha"], "name": str(e["path"]).rsplit("/", 1)[-1], "type": e["type"],
             "path": e["path"], "mode": e["mode"]}
            for e in folder(files, path)
        ]  # fmt: skip
        per_page, page = int(query.get("per_page", ["20"])[0]), int(query.get("page", ["1"])[0])
        shown = entries[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(entries)
        headers = {"x-next-page": str(page + 1) if more else "", "x-page": str(page)}
        return httpx.Response(200, json=shown, headers=headers)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))
