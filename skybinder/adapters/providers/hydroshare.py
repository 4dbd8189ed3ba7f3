"""HydroshareProvider: resolves hydroshare/<resource id or URL> to the resource's last change.

HydroShare keeps no versions: the resolved ref is `<resource id>.v<epoch of last change>`, so a
changed resource builds again. Only www.hydroshare.org is asked, whatever host a resource URL
in the spec names, as in BinderHub.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from skybinder.adapters.providers.answers import check_answer, dig, json_object, unexpected
from skybinder.adapters.providers.base import (
    DataProvider,
    DataRecord,
    RemoteFile,
    RepoProvider,
    data_display_config,
    make_slug,
)
from skybinder.domain.errors import ResolveError
from skybinder.domain.specs import HydroshareSpec, parse_hydroshare
from skybinder.service.ports import ResolvedRepo

SITE = "https://www.hydroshare.org"
REF = re.compile(r"([0-9a-f]{32})\.v[0-9]{1,12}")


class HydroshareProvider(RepoProvider[HydroshareSpec], DataProvider):
    prefix = "hydroshare"

    def parse(self, spec: str) -> HydroshareSpec:
        return parse_hydroshare(spec)

    def resolve_ref(self, parsed: HydroshareSpec, notices: list[str]) -> str:
        resource = parsed.resource_id
        url = f"{SITE}/hsapi/resource/{resource}/scimeta/elements/"
        reply = self._http.get(url, what="HydroShare", headers={"Accept": "application/json"})
        missing = f"HydroShare has no public resource {resource}. Check the id and its sharing."
        if reply.status_code in (401, 403):  # private resources
            raise ResolveError(missing, status_code=403)
        check_answer(reply, "HydroShare", not_found=missing, now=self._now)
        dates = dig(json_object(reply, "HydroShare"), "dates") or []
        modified = next((d.get("start_date") for d in dates if dig(d, "type") == "modified"), None)
        if not isinstance(modified, str):
            raise unexpected("HydroShare")
        return f"{resource}.v{_epoch(modified)}"

    def describe(self, spec: str, parsed: HydroshareSpec, ref: str) -> ResolvedRepo:
        page = f"{SITE}/resource/{parsed.resource_id}"
        repo_key = f"hydroshare:{parsed.resource_id}"
        return ResolvedRepo(
            provider=self.prefix,
            spec=spec,
            repo_url=page,
            ref=ref,
            ref_url=page,  # HydroShare has no page per version
            # The bare id: the same resource as BinderHub's resolved spec (its URL), without
            # putting "https://" into a URL path.
            resolved_spec=parsed.resource_id,
            repo_key=repo_key,
            slug=make_slug("hydroshare", parsed.resource_id, repo_key),
        )

    def display_config(self) -> dict[str, object] | None:
        return data_display_config(
            self.prefix,
            "HydroShare resource",
            "HydroShare resource id or URL",
            "b8f6eae9d89241cf8b5904033460af61",
        )

    def record(self, repo_url: str, ref: str) -> DataRecord:
        match = REF.fullmatch(ref)
        if match is None:
            raise ResolveError(f"{ref!r} is not a HydroShare resource version (<id>.v<time>).")
        resource = match.group(1)
        # The resource comes as a BagIt zip, prepared on demand; its files are under
        # <id>/data/contents/.
        bag = RemoteFile(
            path=f"{resource}.zip",
            url=f"{SITE}/django_irods/download/bags/{resource}.zip",
            expect_zip=True,
        )
        return DataRecord(files=(bag,), unzip=True, keep=f"{resource}/data/contents")


def _epoch(date: str) -> int:
    """Seconds since the epoch of HydroShare's "2019-09-26T18:28:10.585948Z" (always UTC)."""
    try:
        parsed = datetime.strptime(date.split(".")[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise unexpected("HydroShare") from None
    return int(parsed.replace(tzinfo=UTC).timestamp())
