"""CkanProvider: resolves ckan/<url-escaped dataset URL> through the CKAN site's action API.

The site is the one the dataset URL names (CKAN may live under a path prefix), so every request
goes through the SSRF guard. The resolved ref is `<dataset>.v<epoch>` of the dataset's
`metadata_modified`, or of the activity's timestamp when the URL names one (`/history/<id>`
or `?activity_id=<id>`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from skybinder.adapters.providers.answers import check_answer, dig, json_object, unexpected
from skybinder.adapters.providers.base import (
    DataProvider,
    DataRecord,
    RemoteFile,
    RepoProvider,
    make_slug,
)
from skybinder.domain.errors import ResolveError
from skybinder.domain.specs import CkanSpec, parse_ckan
from skybinder.service.ports import ResolvedRepo

DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S")


def api_base(dataset_url: str) -> str:
    """The action API of the CKAN site of `dataset_url`, e.g. https://demo.ckan.org/api/3/action/."""
    parts = urlsplit(dataset_url)
    prefix = parts.path.split("/dataset/", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{prefix}/api/3/action/"


class CkanProvider(RepoProvider[CkanSpec], DataProvider):
    prefix = "ckan"

    def parse(self, spec: str) -> CkanSpec:
        return parse_ckan(spec)

    def resolve_ref(self, parsed: CkanSpec, notices: list[str]) -> str:
        api = api_base(parsed.url)
        if parsed.activity_id:
            found = self._action(api, "activity_show", {"id": parsed.activity_id}, parsed.url)
            date = dig(found, "timestamp")
        else:
            found = self._action(api, "package_show", {"id": parsed.dataset_id}, parsed.url)
            date = dig(found, "metadata_modified")
        return f"{parsed.dataset_id}.v{_epoch(date)}"

    def describe(self, spec: str, parsed: CkanSpec, ref: str) -> ResolvedRepo:
        site = urlsplit(parsed.url)
        repo_key = f"ckan:{site.netloc}{site.path.split('/dataset/', 1)[0]}/{parsed.dataset_id}"
        return ResolvedRepo(
            provider=self.prefix,
            spec=spec,
            repo_url=parsed.url,
            ref=ref,
            ref_url=parsed.url,
            # Pinned only when the URL names an activity, as in BinderHub.
            resolved_spec=quote(parsed.url, safe=""),
            repo_key=repo_key.lower(),
            slug=make_slug("ckan", parsed.dataset_id, repo_key.lower()),
        )

    def display_config(self) -> dict[str, object] | None:
        return {
            "id": self.prefix,
            "displayName": "CKAN dataset",
            "spec": {"validateRegex": r".+"},
            "repo": {
                "label": "CKAN dataset URL",
                "placeholder": "example: https://demo.ckan.org/dataset/sample-dataset-1",
                "urlEncode": True,
            },
            "ref": {"enabled": False},
        }

    def record(self, repo_url: str, ref: str) -> DataRecord:
        parsed = parse_ckan(quote(repo_url, safe=""))
        api = api_base(repo_url)
        if parsed.activity_id:
            query = {"id": parsed.activity_id, "include_data": "true"}
            found = self._action(api, "activity_show", query, repo_url)
            resources = dig(found, "data", "package", "resources")
        else:
            found = self._action(api, "package_show", {"id": parsed.dataset_id}, repo_url)
            resources = dig(found, "resources")
        if not isinstance(resources, list):
            raise unexpected("CKAN")
        usable = [r for r in resources if isinstance(dig(r, "url"), str) and dig(r, "url")]
        return DataRecord(files=tuple(_remote_file(resource) for resource in usable))

    def _action(self, api: str, action: str, query: dict[str, str], url: str) -> Any:
        reply = self._http.get(
            f"{api}{action}?{urlencode(query)}",
            what=f"the CKAN site of {url}",
            headers={"Accept": "application/json"},
        )
        missing = f"Could not find the CKAN dataset {url}: no such dataset, version or site."
        if reply.status_code in (400, 403):  # CKAN's answers to a bad or private id
            raise ResolveError(missing)
        check_answer(reply, "The CKAN site", not_found=missing, now=self._now)
        data = json_object(reply, "The CKAN site")
        if data.get("success") is not True:
            raise ResolveError(missing)
        return data.get("result")


def _epoch(date: Any) -> int:
    """Seconds since the epoch of CKAN's "2024-05-01T12:30:00.123456" (UTC, no zone given)."""
    for form in DATE_FORMATS:
        try:
            return int(datetime.strptime(str(date), form).replace(tzinfo=UTC).timestamp())
        except ValueError:
            continue
    raise unexpected("CKAN")


def _remote_file(resource: Any) -> RemoteFile:
    url = str(dig(resource, "url"))
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or str(dig(resource, "id"))
    return RemoteFile(path=name, url=url)
