"""dataverse: DOIs followed to known installations, the native API, wrong registrars and
internal addresses, against answers recorded from the Dataverse API guide and Harvard Dataverse."""

from __future__ import annotations

import re

import httpx
import pytest

from skybinder.adapters.providers.base import RemoteFile
from skybinder.domain.errors import (
    ProviderUnavailableError,
    ResolveError,
    SpecError,
    UnsafeUrlError,
)
from skybinder.domain.repo_policy import ProviderSettings
from tests.provider_fakes import Web, make_resolver

DOI = "https://doi.org"

HARVARD = "https://dataverse.harvard.edu"
PERSISTENT = f"{HARVARD}/api/datasets/:persistentId?persistentId=doi%3A10.7910%2FDVN%2FTJCLKP"


def dataset_answer() -> dict[str, object]:
    """GET /api/datasets/:persistentId?persistentId=doi:10.7910/DVN/TJCLKP, shortened."""
    latest = {
        "id": 203891,
        "datasetId": 3035124,
        "datasetPersistentId": "doi:10.7910/DVN/TJCLKP",
        "versionNumber": 3,
        "versionMinorNumber": 0,
        "versionState": "RELEASED",
    }
    return {
        "status": "OK",
        "data": {
            "id": 3035124,
            "identifier": "DVN/TJCLKP",
            "persistentUrl": "https://doi.org/10.7910/DVN/TJCLKP",
            "protocol": "doi",
            "authority": "10.7910",
            "publisher": "Harvard Dataverse",
            "latestVersion": latest,
        },
    }


@pytest.fixture
def dataverse() -> Web:
    web = Web()
    landing = f"{HARVARD}/dataset.xhtml?persistentId=doi:10.7910/DVN/TJCLKP"
    web.redirect(
        f"{DOI}/10.7910/DVN/TJCLKP", f"{HARVARD}/citation?persistentId=doi:10.7910/DVN/TJCLKP"
    )
    web.redirect(f"{HARVARD}/citation", landing)
    web.page(f"{HARVARD}/dataset.xhtml")
    web.json(PERSISTENT, dataset_answer())
    return web


@pytest.mark.parametrize(
    "spec", ["10.7910/DVN/TJCLKP", "doi:10.7910/DVN/TJCLKP", "DOI%3A10.7910/DVN/TJCLKP"]
)
def test_dataverse_doi_resolves_to_the_latest_published_version(dataverse: Web, spec: str) -> None:
    repo = make_resolver(dataverse).resolve("dataverse", spec)
    assert repo.ref == "3035124.v3.0"
    assert repo.repo_url == repo.resolved_spec == "10.7910/DVN/TJCLKP"
    assert repo.ref_url == "https://doi.org/10.7910/DVN/TJCLKP"
    assert repo.repo_key == "dataverse:10.7910/dvn/tjclkp"
    assert dataverse.urls()[-1] == PERSISTENT


def test_dataverse_doi_of_another_registrar_is_refused() -> None:
    web = Web()
    web.redirect(f"{DOI}/10.5281/zenodo.3242074", "https://zenodo.org/records/3242074")
    with pytest.raises(
        SpecError, match=re.escape("leads to zenodo.org, which is not a Dataverse")
    ) as caught:
        make_resolver(web).resolve("dataverse", "10.5281/zenodo.3242074")
    assert caught.value.status_code == 400
    assert web.hosts() == ["doi.org", "zenodo.org"]


def test_dataverse_operator_hosts_are_known(dataverse: Web) -> None:
    dataverse.redirect(
        f"{DOI}/10.1234/ABC", "https://data.example.edu/dataset.xhtml?persistentId=doi:10.1234/ABC"
    )
    dataverse.json("https://data.example.edu/api/datasets/:persistentId", dataset_answer())
    with pytest.raises(SpecError):
        make_resolver(dataverse).resolve("dataverse", "10.1234/ABC")
    settings = ProviderSettings(dataverse_hosts=["data.example.edu"])
    assert make_resolver(dataverse, settings=settings).resolve("dataverse", "10.1234/ABC").ref


def test_dataverse_doi_leading_to_an_internal_address_is_refused() -> None:
    web = Web()
    web.redirect(f"{DOI}/10.1234/EVIL", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(UnsafeUrlError):
        make_resolver(web).resolve("dataverse", "10.1234/EVIL")
    assert web.hosts() == ["doi.org"]


def test_dataverse_missing_dataset_and_rate_limit(dataverse: Web) -> None:
    missing = {
        "status": "ERROR",
        "message": "Dataset with Persistent ID doi:10.7910/DVN/TJCLKP not found.",
    }
    dataverse.json(PERSISTENT, missing, status=404)
    with pytest.raises(
        ResolveError, match=re.escape("Dataverse has no published dataset 10.7910/DVN/TJCLKP")
    ):
        make_resolver(dataverse).resolve("dataverse", "10.7910/DVN/TJCLKP")
    dataverse.add(PERSISTENT, httpx.Response(429, headers={"Retry-After": "600"}))
    with pytest.raises(ProviderUnavailableError, match="Try again in 10 minutes"):
        make_resolver(dataverse).resolve("dataverse", "10.7910/DVN/TJCLKP")


def test_dataverse_record_lists_public_files_with_originals(dataverse: Web) -> None:
    files = [
        {"label": "requirements.txt", "restricted": False, "directoryLabel": "binder",
         "dataFile": {"id": 3323458, "filename": "requirements.txt"}},
        {"label": "data.tab", "restricted": False,
         "dataFile": {"id": 3323459, "filename": "data.tab", "originalFileName": "data.csv"}},
        {"label": "secret.csv", "restricted": True, "dataFile": {"id": 3323460}},
    ]  # fmt: skip
    version = {
        "status": "OK",
        "data": {"versionNumber": 3, "versionMinorNumber": 0, "files": files},
    }
    dataverse.json(f"{HARVARD}/api/datasets/3035124/versions/3.0", version)
    provider = make_resolver(dataverse).data_providers()["dataverse"]
    record = provider.record("10.7910/DVN/TJCLKP", "3035124.v3.0")
    assert record.files == (
        RemoteFile("binder/requirements.txt", f"{HARVARD}/api/access/datafile/3323458"),
        RemoteFile("data.csv", f"{HARVARD}/api/access/datafile/3323459?format=original"),
    )
