"""DataverseProvider: resolves dataverse/<DOI> to a dataset version on a known Dataverse.

Any registrar's DOI may name a Dataverse dataset, so the DOI is followed through doi.org and
the host it lands on must be a known Dataverse installation (dataverse_hosts.json, plus the
operator's `dataverse_hosts`): a DOI leading anywhere else is refused. The host's native API
gives the dataset's id and latest published version, `<id>.v<major>.<minor>`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode, urlsplit

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
from skybinder.adapters.providers.safe_http import SafeHttp
from skybinder.domain.errors import ResolveError
from skybinder.domain.spec_rules import spec_error
from skybinder.domain.specs import DataverseSpec, parse_dataverse
from skybinder.service.ports import ResolvedRepo

DOI_SCHEME = re.compile(r"doi(?::|%3a)", re.IGNORECASE)
REF = re.compile(r"([0-9]{1,12})\.v([0-9]{1,6})\.([0-9]{1,6})")


def known_installations() -> frozenset[str]:
    """The host names of the Dataverse installations skybinder ships."""
    text = (files("skybinder.adapters.providers") / "dataverse_hosts.json").read_text("utf-8")
    return frozenset(host.lower() for host in json.loads(text)["hosts"])


class DataverseProvider(RepoProvider[DataverseSpec], DataProvider):
    prefix = "dataverse"

    def __init__(
        self,
        http: SafeHttp,
        *,
        extra_hosts: Iterable[str] = (),
        now: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self.hosts = known_installations() | {host.lower() for host in extra_hosts}
        self._now = now

    def parse(self, spec: str) -> DataverseSpec:
        # Dataverse shows its DOIs as "doi:10.7910/DVN/TJCLKP"; BinderHub's form drops the "doi:".
        scheme = DOI_SCHEME.match(spec)
        return parse_dataverse(spec[scheme.end() :] if scheme else spec)

    def resolve_ref(self, parsed: DataverseSpec, notices: list[str]) -> str:
        base = self._installation(parsed.doi)
        query = urlencode({"persistentId": f"doi:{parsed.doi}"})
        data = self._get(f"{base}/api/datasets/:persistentId?{query}", parsed.doi)
        dataset_id = dig(data, "data", "id")
        major = dig(data, "data", "latestVersion", "versionNumber")
        minor = dig(data, "data", "latestVersion", "versionMinorNumber")
        if not isinstance(dataset_id, int):
            raise unexpected("Dataverse")
        if not isinstance(major, int) or not isinstance(minor, int):
            raise ResolveError(f"The dataset {parsed.doi} has no published version to launch.")
        return f"{dataset_id}.v{major}.{minor}"

    def describe(self, spec: str, parsed: DataverseSpec, ref: str) -> ResolvedRepo:
        repo_key = f"dataverse:{parsed.doi}".lower()
        return ResolvedRepo(
            provider=self.prefix,
            spec=spec,
            repo_url=parsed.doi,  # repo2docker follows the DOI itself, as in BinderHub
            ref=ref,
            ref_url=doi_url(parsed.doi),
            # A Dataverse DOI names the dataset, not a version: this is as pinned as it gets.
            resolved_spec=parsed.doi,
            repo_key=repo_key,
            slug=make_slug("dataverse", parsed.doi.split("/", 1)[-1], repo_key),
        )

    def display_config(self) -> dict[str, object] | None:
        return data_display_config(
            self.prefix, "Dataverse DOI", "Dataverse DOI", "10.7910/DVN/TJCLKP"
        )

    def record(self, repo_url: str, ref: str) -> DataRecord:
        match = REF.fullmatch(ref)
        if match is None:
            raise ResolveError(f"{ref!r} is not a Dataverse dataset version (<id>.v<n>.<m>).")
        dataset_id, major, minor = match.groups()
        base = self._installation(repo_url)
        data = self._get(f"{base}/api/datasets/{dataset_id}/versions/{major}.{minor}", repo_url)
        entries = dig(data, "data", "files") or []
        # Restricted files need an account; the public rest of the dataset still launches.
        public = [entry for entry in entries if not dig(entry, "restricted")]
        return DataRecord(files=tuple(_remote_file(base, entry) for entry in public))

    def _installation(self, doi: str) -> str:
        """`scheme://host` of the known Dataverse installation `doi` leads to."""
        landing = urlsplit(follow_doi(self._http, doi).url)
        host = (landing.hostname or "").lower()
        if host not in self.hosts:
            raise spec_error(
                "dataverse",
                f"the DOI {doi} leads to {host or 'no host'}, which is not a Dataverse "
                "installation this binder knows (the operator can add it to dataverse_hosts)",
            )
        return f"{landing.scheme}://{landing.netloc}"

    def _get(self, url: str, doi: str) -> dict[str, Any]:
        reply = self._http.get(url, what="Dataverse", headers={"Accept": "application/json"})
        missing = f"Dataverse has no published dataset {doi}. Check the DOI."
        check_answer(reply, "Dataverse", not_found=missing, now=self._now)
        data = json_object(reply, "Dataverse")
        if data.get("status") != "OK":
            raise unexpected("Dataverse")
        return data


def _remote_file(base: str, entry: Any) -> RemoteFile:
    file_id, label = dig(entry, "dataFile", "id"), dig(entry, "label")
    if not isinstance(file_id, int) or not isinstance(label, str):
        raise unexpected("Dataverse")
    url = f"{base}/api/access/datafile/{file_id}"
    original = dig(entry, "dataFile", "originalFileName")
    if isinstance(original, str) and original:
        # Tabular files are served converted (.tab) unless the original is asked for.
        url, label = f"{url}?format=original", original
    folder = dig(entry, "directoryLabel")
    return RemoteFile(path=f"{folder}/{label}" if isinstance(folder, str) else label, url=url)
