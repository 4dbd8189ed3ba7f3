"""A plain git repository's tree at one commit, read with dulwich over smart HTTP.

One shallow, blobless fetch (depth 1, filter blob:none) brings the commit and its trees; the
few dependency files the key reads are then fetched by blob id. A server without partial
clone sends the blobs with the first fetch, which is bounded in size like every answer.
Every request goes through SafeHttp, so the SSRF guard checks each host and redirect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from io import BytesIO
from typing import Any

from dulwich.client import AbstractHttpGitClient
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.objects import Blob, Commit, ObjectID
from dulwich.objects import Tree as GitTreeObject
from dulwich.repo import MemoryRepo

from skybinder.adapters.providers.safe_http import Reply, SafeHttp
from skybinder.domain.environment import Entry, NoKey, Tree, entry_kind

MAX_PACK = 32 * 1024 * 1024  # a tree-only pack larger than this is not read: no key
HEADERS = {"User-Agent": "git/2 (skybinder)"}


class _Response:
    """What dulwich reads of an HTTP answer (the shape of urllib3's response)."""

    def __init__(self, reply: Reply, url: str) -> None:
        self.status = reply.status_code
        self.headers = reply.headers
        self.content_type = reply.headers.get("content-type")
        self.redirect_location = reply.url if reply.url != url else ""
        self._body = BytesIO(reply.content)
        self._url = reply.url

    def read(self, amt: int | None = None) -> bytes:
        return self._body.read(amt)

    def close(self) -> None:
        self._body.close()

    def geturl(self) -> str:
        return self._url


class GuardedHttpGitClient(AbstractHttpGitClient):
    """dulwich's smart HTTP client, sending every request through SafeHttp."""

    def __init__(self, http: SafeHttp, base_url: str) -> None:
        super().__init__(base_url)
        self._safe = http
        self._what = f"the git server of {base_url}"

    def _http_request(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        data: bytes | Iterator[bytes] | None = None,
        raise_for_status: bool = True,
    ) -> tuple[Any, Callable[[int], bytes]]:
        sent = {**HEADERS, **(headers or {})}
        if data is None:
            reply = self._safe.get(url, what=self._what, headers=sent, max_bytes=MAX_PACK)
        else:
            body = data if isinstance(data, bytes) else b"".join(data)
            reply = self._safe.post(url, body, what=self._what, headers=sent, max_bytes=MAX_PACK)
        if raise_for_status and reply.status_code == 404:
            raise NotGitRepository(url)
        if raise_for_status and reply.status_code != 200:
            raise GitProtocolError(f"HTTP {reply.status_code} from {url}")
        response = _Response(reply, url)
        return response, response.read


class GitTree:
    """TreeReader over a shallow blobless fetch of `commit` from the git server at `url`."""

    def __init__(self, http: SafeHttp, url: str, commit: str) -> None:
        self.client = GuardedHttpGitClient(http, url)
        self.repo = MemoryRepo()
        self.commit = commit

    def root(self) -> Tree:
        self._fetch(self.commit, depth=1, blobless=True)
        commit = self.repo.object_store[_oid(self.commit)]
        if not isinstance(commit, Commit):
            raise NoKey(f"{self.commit} is not a commit")
        return self._tree(commit.tree)

    def tree(self, path: str, entry: Entry) -> Tree:
        return self._tree(_oid(entry.sha))

    def read(self, path: str, sha: str) -> bytes:
        if _oid(sha) not in self.repo.object_store:
            self._fetch(sha, depth=None, blobless=False)
        blob = self.repo.object_store[_oid(sha)]
        if not isinstance(blob, Blob):
            raise NoKey(f"{path} is not a file")
        return bytes(blob.as_raw_string())

    def _tree(self, sha: ObjectID) -> Tree:
        if sha not in self.repo.object_store:
            raise NoKey("the server did not send the tree")
        tree = self.repo.object_store[sha]
        if not isinstance(tree, GitTreeObject):
            raise NoKey("a tree entry is not a tree")
        return _entries(tree)

    def _fetch(self, want: str, *, depth: int | None, blobless: bool) -> None:
        def wants(refs: Mapping[Any, Any], depth: int | None = None) -> list[Any]:
            return [_oid(want)]

        try:
            self.client.fetch(
                "",
                self.repo,
                determine_wants=wants,
                depth=depth,
                filter_spec=b"blob:none" if blobless else None,
            )
        except (GitProtocolError, HangupException, NotGitRepository, KeyError) as err:
            raise NoKey(f"the git server could not send {want[:12]} ({err})") from err


def _entries(tree: GitTreeObject) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for item in tree.iteritems():
        name = item.path.decode("utf-8", "replace")
        mode = f"{item.mode:06o}"
        kind = "tree" if mode == "040000" else "commit" if mode == "160000" else "blob"
        out[name] = Entry(name, entry_kind(mode, kind), item.sha.decode())
    return out


def _oid(sha: str) -> ObjectID:
    return ObjectID(sha.encode("ascii"))
