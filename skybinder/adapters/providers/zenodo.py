"""ZenodoProvider: resolves zenodo/<DOI> to a Zenodo record through doi.org.

A version DOI (10.5281/zenodo.<record>) leads to that record; a concept DOI leads, through
Zenodo's own redirect, to the latest version's record. The record id is the last part of the
landing page's path, and the resolved spec is the DOI of that version.
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
from skybinder.domain.specs import ZenodoSpec, parse_zenodo
from skybinder.service.ports import ResolvedRepo

# DOI prefix -> the Zenodo instance that mints it (10.5072 is the sandbox's test prefix).
HOSTS = {"10.5281": "zenodo.org", "10.5072": "sandbox.zenodo.org"}
RECORD_PATH = re.compile(r"/records?/([0-9]{1,12})/?")


class ZenodoProvider(RepoProvider[ZenodoSpec], DataProvider):
    prefix = "zenodo"

    def parse(self, spec: str) -> ZenodoSpec:
        return parse_zenodo(spec)

    def resolve_ref(self, parsed: ZenodoSpec, notices: list[str]) -> str:
        reply = follow_doi(self._http, parsed.doi)
        host = HOSTS[_doi_prefix(parsed.doi)]
        parts = urlsplit(reply.url)
        match = RECORD_PATH.fullmatch(parts.path)
        if (parts.hostname or "").lower() not in (host, f"www.{host}") or match is None:
            raise ResolveError(
                f"The DOI {parsed.doi} leads to {reply.url}, which is not a {host} record. "
                "Check the DOI."
            )
        not_found = f"Zenodo has no record {match.group(1)} (it was deleted or never published)."
        check_answer(reply, "Zenodo", not_found=not_found, now=self._now)
        return match.group(1)

    def describe(self, spec: str, parsed: ZenodoSpec, ref: str) -> ResolvedRepo:
        resolved = f"{_doi_prefix(parsed.doi)}/zenodo.{ref}"
        repo_key = f"zenodo:{parsed.doi}".lower()
        return ResolvedRepo(
            provider=self.prefix,
            spec=spec,
            # The version's DOI, not the one asked for: a concept DOI moves on to newer versions.
            repo_url=resolved,
            ref=ref,
            ref_url=doi_url(resolved),
            resolved_spec=resolved,
            repo_key=repo_key,
            slug=make_slug("zenodo", ref, repo_key),
        )

    def display_config(self) -> dict[str, object] | None:
        return data_display_config(
            self.prefix, "Zenodo DOI", "Zenodo DOI", "10.5281/zenodo.3242074"
        )

    def record(self, repo_url: str, ref: str) -> DataRecord:
        host = HOSTS.get(_doi_prefix(repo_url), HOSTS["10.5281"])
        reply = self._http.get(
            f"https://{host}/api/records/{ref}",
            what="Zenodo",
            headers={"Accept": "application/json"},
        )
        check_answer(reply, "Zenodo", not_found=f"Zenodo has no record {ref}.", now=self._now)
        data = json_object(reply, "Zenodo")
        files = tuple(_remote_file(entry) for entry in dig(data, "files") or [])
        metadata = dig(data, "metadata")
        kind = dig(metadata, "upload_type") or dig(metadata, "resource_type", "type")
        # repo2docker unpacks the archive of a software record (a GitHub release, typically).
        return DataRecord(files=files, unzip=str(kind).lower() == "software" and len(files) == 1)


def _doi_prefix(doi: str) -> str:
    return doi.split("/", 1)[0]


def _remote_file(entry: Any) -> RemoteFile:
    name = dig(entry, "key") or dig(entry, "filename")
    url = dig(entry, "links", "content") or dig(entry, "links", "download")
    url = url or dig(entry, "links", "self")
    if not isinstance(name, str) or not isinstance(url, str):
        raise unexpected("Zenodo")  # a file without a name or a download link
    return RemoteFile(path=name, url=url)
