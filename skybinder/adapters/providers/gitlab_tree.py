"""A GitLab project's tree at one commit: the repository tree and raw blob APIs."""

from __future__ import annotations

from urllib.parse import quote

from skybinder.adapters.providers.safe_http import SafeHttp
from skybinder.adapters.providers.tree_answers import entries, file_content
from skybinder.domain.environment import Entry, NoKey, Tree

PER_PAGE = 100  # GitLab's largest page
MAX_PAGES = 20  # a folder with more entries than this is not read: no key


class GitLabTree:
    """TreeReader over `GET /projects/:id/repository/tree?ref=<sha>[&path=binder]`: one
    request for the root (more for a root of over 100 entries), one for binder/."""

    def __init__(self, http: SafeHttp, host: str, namespace: str, commit: str) -> None:
        self.http = http
        self.api = f"https://{host}/api/v4/projects/{quote(namespace, safe='')}/repository"
        self.what = f"GitLab ({host})"
        self.commit = commit

    def root(self) -> Tree:
        return self._list("")

    def tree(self, path: str, entry: Entry) -> Tree:
        return self._list(path)

    def read(self, path: str, sha: str) -> bytes:
        return file_content(
            self.http, f"{self.api}/blobs/{sha}/raw", sha, what=self.what, path=path
        )

    def _list(self, path: str) -> Tree:
        items: list[object] = []
        page = "1"
        for _ in range(MAX_PAGES):
            query = f"ref={self.commit}&per_page={PER_PAGE}&page={page}"
            if path:
                query += f"&path={quote(path, safe='')}"
            reply = self.http.get(f"{self.api}/tree?{query}", what=self.what)
            if reply.status_code != 200:
                raise NoKey(f"{self.what} answered {reply.status_code} for the tree")
            data = reply.json()
            if not isinstance(data, list):
                raise NoKey(f"{self.what} sent a tree of an unexpected shape")
            items += data
            page = reply.headers.get("x-next-page", "")
            if not page:
                return entries(items, name_key="name", type_key="type", sha_key="id")
        raise NoKey(f"the folder has more than {MAX_PAGES * PER_PAGE} entries")
