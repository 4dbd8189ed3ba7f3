"""A GitHub repository's tree at one commit: the git trees API, and file contents from
raw.githubusercontent.com (which does not count against the API's rate limit)."""

from __future__ import annotations

from urllib.parse import quote

from skybinder.adapters.providers.github_api import GitHubApi
from skybinder.adapters.providers.tree_answers import entries, file_content
from skybinder.domain.environment import Entry, NoKey, Tree

RAW_URL = "https://raw.githubusercontent.com"


class GitHubTree:
    """TreeReader over `GET /repos/{owner}/{repo}/git/trees/{sha}`: one request for the root
    (a commit sha names its root tree), one for binder/ when there is one."""

    def __init__(self, api: GitHubApi, user: str, repo: str, commit: str) -> None:
        self.api = api
        self.user, self.repo, self.commit = user, repo, commit

    def root(self) -> Tree:
        return self._list(self.commit)

    def tree(self, path: str, entry: Entry) -> Tree:
        return self._list(entry.sha)

    def read(self, path: str, sha: str) -> bytes:
        url = f"{RAW_URL}/{self.user}/{self.repo}/{self.commit}/{quote(path)}"
        return file_content(self.api.http, url, sha, what="GitHub", path=path)

    def _list(self, tree: str) -> Tree:
        data = self.api.get_json(f"/repos/{self.user}/{self.repo}/git/trees/{tree}")
        if data is None:
            raise NoKey("GitHub has no such tree")
        items = data.get("tree")
        if not isinstance(items, list) or data.get("truncated"):
            raise NoKey("GitHub sent an incomplete tree")
        return entries(items, name_key="path", type_key="type", sha_key="sha")
