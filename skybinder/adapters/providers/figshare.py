"""FigshareProvider: resolves figshare/<DOI> to an article version through doi.org and the API.

The DOI leads to the article's page (figshare.com or an institution's *.figshare.com portal),
whose URL ends with the article id and, for a version DOI, the version. Without a version the
latest one is asked of the figshare API, so a DOI without `.v<n>` launches the newest version.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from skybinder.adapters.providers.answers import check_answer, dig, json_object, unexpected
from skybinder.adapters.providers.base import (
    DataProvider,
    DataRecord,
    RemoteFile,
    RepoProvider,
    data_display_config,
    make_slug,
)
from skybinder.adapters.providers.doi import doi_url, follow_doi
from skybinder.domain.errors import ResolveError
from skybinder.domain.specs import FigshareSpec, parse_figshare
from skybinder.service.ports import ResolvedRepo

API_URL = "https://api.figshare.com/v2/articles"
# /articles/<type>/<title>/<id>[/<version>] (and the older /articles/<title>/<id>[/<version>])
ARTICLE_PATH = re.compile(r"/articles/(?:[^/]+/)?[^/]+/([0-9]{1,12})(?:/([0-9]{1,6}))?/?")
REF = re.compile(r"([0-9]{1,12})\.v([0-9]{1,6})")


class FigshareProvider(RepoProvider[FigshareSpec], DataProvider):
    prefix = "figshare"

    def parse(self, spec: str) -> FigshareSpec:
        return parse_figshare(spec)

    def resolve_ref(self, parsed: FigshareSpec, notices: list[str]) -> str:
        reply = follow_doi(self._http, parsed.doi)
        parts = urlsplit(reply.url)
        host = (parts.hostname or "").lower()
        match = ARTICLE_PATH.fullmatch(parts.path)
        if not (host == "figshare.com" or host.endswith(".figshare.com")) or match is None:
            raise ResolveError(
                f"The DOI {parsed.doi} leads to {reply.url}, which is not a Figshare article. "
                "Check the DOI."
            )
        article = match.group(1)
        wanted = int(match.group(2)) if match.group(2) else parsed.version
        versions = self._versions(article)
        if wanted is None:
            return f"{article}.v{max(versions)}"
        if wanted not in versions:
            raise ResolveError(
                f"Figshare article {article} has no version {wanted}; it has versions "
                f"{', '.join(map(str, sorted(versions)))}."
            )
        return f"{article}.v{wanted}"

    def describe(self, spec: str, parsed: FigshareSpec, ref: str) -> ResolvedRepo:
        resolved = f"{parsed.doi.split('/', 1)[0]}/m9.figshare.{ref}"
        article = ref.split(".", 1)[0]
        repo_key = f"figshare:{article}"
        return ResolvedRepo(
            provider=self.prefix,
            spec=spec,
            repo_url=resolved,  # the version's DOI: what repo2docker fetches, pinned
            ref=ref,
            ref_url=doi_url(resolved),
            resolved_spec=resolved,
            repo_key=repo_key,
            slug=make_slug("figshare", article, repo_key),
        )

    def display_config(self) -> dict[str, object] | None:
        return data_display_config(
            self.prefix, "Figshare DOI", "Figshare DOI", "10.6084/m9.figshare.9782777.v1"
        )

    def record(self, repo_url: str, ref: str) -> DataRecord:
        match = REF.fullmatch(ref)
        if match is None:
            raise ResolveError(f"{ref!r} is not a Figshare article version (<id>.v<n>).")
        article, version = match.groups()
        data = self._get(f"{API_URL}/{article}/versions/{version}", article)
        files = [entry for entry in dig(data, "files") or [] if not dig(entry, "is_link_only")]
        remote = tuple(_remote_file(entry) for entry in files)
        single_zip = len(remote) == 1 and remote[0].path.lower().endswith(".zip")
        return DataRecord(files=remote, unzip=single_zip)

    def _versions(self, article: str) -> set[int]:
        # The answer is a JSON list; a missing article is a 404 object.
        reply = self._http.get(
            f"{API_URL}/{article}/versions", what="Figshare", headers={"Accept": "application/json"}
        )
        check_answer(reply, "Figshare", not_found=_missing(article), now=self._now)
        try:
            listed = reply.json()
        except ValueError:
            listed = None
        entries = listed if isinstance(listed, list) else []
        numbers = {v for v in (dig(e, "version") for e in entries) if isinstance(v, int) and v > 0}
        if not numbers:
            raise unexpected("Figshare")
        return numbers

    def _get(self, url: str, article: str) -> dict[str, Any]:
        reply = self._http.get(url, what="Figshare", headers={"Accept": "application/json"})
        check_answer(reply, "Figshare", not_found=_missing(article), now=self._now)
        return json_object(reply, "Figshare")


def _missing(article: str) -> str:
    return f"Figshare has no public article {article}. Check the DOI."


def _remote_file(entry: Any) -> RemoteFile:
    name, url = dig(entry, "name"), dig(entry, "download_url")
    if not isinstance(name, str) or not isinstance(url, str):
        raise unexpected("Figshare")
    return RemoteFile(path=name, url=url)
