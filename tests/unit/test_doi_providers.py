"""zenodo and figshare: doi.org redirects, the providers' APIs, not found, rate
limits and wrong registrars, against answers recorded from their documentation and examples."""

from __future__ import annotations

import re

import httpx
import pytest

from skybinder.adapters.providers.base import RemoteFile
from skybinder.domain.errors import (
    ProviderUnavailableError,
    ResolveError,
)
from tests.provider_fakes import NOW, Web, make_resolver

DOI = "https://doi.org"


def zenodo_record(record: int, files: int = 1, kind: str = "software") -> dict[str, object]:
    """GET https://zenodo.org/api/records/<id>, shortened."""
    api = f"https://zenodo.org/api/records/{record}"
    entries = [
        {
            "id": f"f{index}",
            "key": f"binder-examples/requirements-v1.{index}.zip",
            "size": 8059,
            "checksum": "md5:5d1f2c4ec8c2b1d8e3c9c5f4b1a2e3d4",
            "links": {"self": f"{api}/files/requirements-v1.{index}.zip/content"},
        }
        for index in range(files)
    ]
    return {
        "id": record,
        "doi": f"10.5281/zenodo.{record}",
        "conceptrecid": "3242073",
        "conceptdoi": "10.5281/zenodo.3242073",
        "metadata": {"title": "binder-examples/requirements: v1.0", "upload_type": kind},
        "files": entries,
        "links": {"html": f"https://zenodo.org/records/{record}", "files": f"{api}/files"},
    }


@pytest.fixture
def zenodo() -> Web:
    web = Web()
    web.redirect(f"{DOI}/10.5281/zenodo.3242074", "https://zenodo.org/doi/10.5281/zenodo.3242074")
    web.redirect("https://zenodo.org/doi/10.5281/zenodo.3242074", "/records/3242074", 301)
    web.page("https://zenodo.org/records/3242074")
    # The concept DOI: Zenodo sends its old record URL on to the latest version.
    web.redirect(f"{DOI}/10.5281/zenodo.3242073", "https://zenodo.org/record/3242073")
    web.redirect("https://zenodo.org/record/3242073", "https://zenodo.org/records/3242074")
    web.json("https://zenodo.org/api/records/3242074", zenodo_record(3242074))
    return web


def test_zenodo_version_doi_resolves_to_its_record(zenodo: Web) -> None:
    repo = make_resolver(zenodo).resolve("zenodo", "10.5281/zenodo.3242074")
    assert repo.ref == "3242074"
    assert repo.repo_url == repo.resolved_spec == "10.5281/zenodo.3242074"
    assert repo.ref_url == "https://doi.org/10.5281/zenodo.3242074"
    assert repo.repo_key == "zenodo:10.5281/zenodo.3242074"
    assert repo.slug.startswith("zenodo-3242074-")
    assert zenodo.hosts() == ["doi.org", "zenodo.org", "zenodo.org"]


def test_zenodo_concept_doi_resolves_to_the_latest_version(zenodo: Web) -> None:
    repo = make_resolver(zenodo).resolve("zenodo", "10.5281/zenodo.3242073")
    assert (repo.ref, repo.resolved_spec) == ("3242074", "10.5281/zenodo.3242074")
    assert repo.spec == "10.5281/zenodo.3242073"
    assert repo.repo_key == "zenodo:10.5281/zenodo.3242073"


def test_unknown_doi_is_not_registered(zenodo: Web) -> None:
    zenodo.add(f"{DOI}/10.5281/zenodo.1", httpx.Response(404, html="<h1>DOI Not Found</h1>"))
    with pytest.raises(ResolveError, match=re.escape("The DOI 10.5281/zenodo.1 is not registered")):
        make_resolver(zenodo).resolve("zenodo", "10.5281/zenodo.1")


def test_zenodo_deleted_record_is_not_found(zenodo: Web) -> None:
    zenodo.add("https://zenodo.org/records/3242074", httpx.Response(410, html="Gone"))
    with pytest.raises(ResolveError, match="Zenodo has no record 3242074") as caught:
        make_resolver(zenodo).resolve("zenodo", "10.5281/zenodo.3242074")
    assert caught.value.status_code == 404


def test_zenodo_rate_limit_says_when_to_come_back(zenodo: Web) -> None:
    headers = {
        "X-RateLimit-Limit": "133",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(NOW + 90)),
    }
    zenodo.add("https://zenodo.org/records/3242074", httpx.Response(429, headers=headers))
    with pytest.raises(ProviderUnavailableError) as caught:
        make_resolver(zenodo).resolve("zenodo", "10.5281/zenodo.3242074")
    assert caught.value.status_code == 429
    assert caught.value.message == "Zenodo rate limit exceeded. Try again in 2 minutes."


def test_zenodo_doi_leading_elsewhere_is_refused(zenodo: Web) -> None:
    zenodo.redirect(f"{DOI}/10.5281/zenodo.77", "https://example.org/records/77")
    with pytest.raises(ResolveError, match=re.escape("which is not a zenodo.org record")):
        make_resolver(zenodo).resolve("zenodo", "10.5281/zenodo.77")


def test_doi_org_trouble_is_unavailable(zenodo: Web) -> None:
    zenodo.add(f"{DOI}/10.5281/zenodo.5", httpx.Response(503, text="maintenance"))
    with pytest.raises(ProviderUnavailableError, match=re.escape("doi.org answered HTTP 503")):
        make_resolver(zenodo).resolve("zenodo", "10.5281/zenodo.5")


def test_zenodo_record_files_for_the_local_builder(zenodo: Web) -> None:
    provider = make_resolver(zenodo).data_providers()["zenodo"]
    record = provider.record("10.5281/zenodo.3242074", "3242074")
    assert record.files == (
        RemoteFile(
            "binder-examples/requirements-v1.0.zip",
            "https://zenodo.org/api/records/3242074/files/requirements-v1.0.zip/content",
        ),
    )
    assert record.unzip  # one file of a software record: repo2docker unpacks it
    zenodo.json("https://zenodo.org/api/records/3242074", zenodo_record(3242074, 2))
    assert not provider.record("10.5281/zenodo.3242074", "3242074").unzip
    zenodo.json("https://zenodo.org/api/records/3242074", zenodo_record(3242074, 1, "dataset"))
    assert not provider.record("10.5281/zenodo.3242074", "3242074").unzip


# --- Figshare ------------------------------------------------------------------------------

ARTICLE = "https://figshare.com/articles/software/binder-examples_requirements/9782777"
FIGSHARE_API = "https://api.figshare.com/v2/articles/9782777"


@pytest.fixture
def figshare() -> Web:
    web = Web()
    web.redirect(f"{DOI}/10.6084/m9.figshare.9782777.v1", f"{ARTICLE}/1")
    web.redirect(f"{DOI}/10.6084/m9.figshare.9782777", ARTICLE)
    # figshare.com answers robots with 403; the landing page's address is all we need.
    web.add(f"{ARTICLE}/1", httpx.Response(403, html="Just a moment..."))
    web.add(ARTICLE, httpx.Response(403, html="Just a moment..."))
    versions = [{"version": n, "url": f"{FIGSHARE_API}/versions/{n}"} for n in (1, 3, 2)]
    web.json(f"{FIGSHARE_API}/versions", versions)
    files = [
        {
            "id": 17528459,
            "name": "binder-examples-requirements.zip",
            "size": 8059,
            "is_link_only": False,
            "download_url": "https://ndownloader.figshare.com/files/17528459",
        },
        {"id": 1, "name": "elsewhere", "is_link_only": True, "download_url": "https://x.org/y"},
    ]
    web.json(f"{FIGSHARE_API}/versions/3", {"id": 9782777, "version": 3, "files": files})
    return web


def test_figshare_version_doi_keeps_its_version(figshare: Web) -> None:
    repo = make_resolver(figshare).resolve("figshare", "10.6084/m9.figshare.9782777.v1")
    assert repo.ref == "9782777.v1"
    assert repo.repo_url == repo.resolved_spec == "10.6084/m9.figshare.9782777.v1"
    assert repo.ref_url == "https://doi.org/10.6084/m9.figshare.9782777.v1"
    assert repo.repo_key == "figshare:9782777"


def test_figshare_doi_without_version_is_the_latest(figshare: Web) -> None:
    repo = make_resolver(figshare).resolve("figshare", "10.6084/m9.figshare.9782777")
    assert (repo.ref, repo.resolved_spec) == ("9782777.v3", "10.6084/m9.figshare.9782777.v3")


def test_figshare_institution_portals_are_figshare(figshare: Web) -> None:
    figshare.redirect(
        f"{DOI}/10.6084/m9.figshare.9782777.v2",
        "https://monash.figshare.com/articles/dataset/Some_data/9782777/2",
    )
    repo = make_resolver(figshare).resolve("figshare", "10.6084/m9.figshare.9782777.v2")
    assert repo.ref == "9782777.v2"


def test_figshare_missing_version_or_article_is_not_found(figshare: Web) -> None:
    figshare.redirect(f"{DOI}/10.6084/m9.figshare.9782777.v9", f"{ARTICLE}/9")
    with pytest.raises(ResolveError, match="has no version 9; it has versions 1, 2, 3"):
        make_resolver(figshare).resolve("figshare", "10.6084/m9.figshare.9782777.v9")
    figshare.json(
        f"{FIGSHARE_API}/versions",
        {"message": "Entity not found: article", "code": "EntityNotFound"},
        status=404,
    )
    with pytest.raises(ResolveError, match="Figshare has no public article 9782777"):
        make_resolver(figshare).resolve("figshare", "10.6084/m9.figshare.9782777")


def test_figshare_rate_limit(figshare: Web) -> None:
    figshare.add(f"{FIGSHARE_API}/versions", httpx.Response(429, headers={"Retry-After": "30"}))
    with pytest.raises(
        ProviderUnavailableError, match=re.escape("Figshare rate limit exceeded. Try again")
    ):
        make_resolver(figshare).resolve("figshare", "10.6084/m9.figshare.9782777")


def test_figshare_doi_leading_elsewhere_is_refused(figshare: Web) -> None:
    figshare.redirect(f"{DOI}/10.6084/m9.figshare.5", "https://evil.example.org/articles/a/b/5")
    with pytest.raises(ResolveError, match="is not a Figshare article"):
        make_resolver(figshare).resolve("figshare", "10.6084/m9.figshare.5")


def test_figshare_record_skips_link_only_files(figshare: Web) -> None:
    provider = make_resolver(figshare).data_providers()["figshare"]
    record = provider.record("10.6084/m9.figshare.9782777.v3", "9782777.v3")
    assert [f.path for f in record.files] == ["binder-examples-requirements.zip"]
    assert record.unzip
