"""hydroshare and ckan: resolution, not found, rate limits and redirects, against recorded
answers of HydroShare's hsapi and CKAN's action API."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from skybinder.adapters.providers.base import RemoteFile
from skybinder.domain.errors import ProviderUnavailableError, ResolveError, UnsafeUrlError
from tests.provider_fakes import FakeDns, Web, make_resolver

RESOURCE = "b8f6eae9d89241cf8b5904033460af61"
SCIMETA = f"https://www.hydroshare.org/hsapi/resource/{RESOURCE}/scimeta/elements/"
MODIFIED = 1569522490  # 2019-09-26T18:28:10Z


def scimeta() -> dict[str, object]:
    """GET /hsapi/resource/<id>/scimeta/elements/, shortened."""
    return {
        "title": "Binder example",
        "creators": [{"name": "Doe, Jane", "order": 1}],
        "dates": [
            {"type": "created", "start_date": "2019-09-26T18:24:59.436017Z", "end_date": None},
            {"type": "modified", "start_date": "2019-09-26T18:28:10.585948Z", "end_date": None},
        ],
        "identifiers": [
            {
                "name": "hydroShareIdentifier",
                "url": f"http://www.hydroshare.org/resource/{RESOURCE}",
            }
        ],
        "type": "http://www.hydroshare.org/terms/CompositeResource",
    }


@pytest.fixture
def hydroshare() -> Web:
    web = Web()
    web.json(SCIMETA, scimeta())
    return web


@pytest.mark.parametrize(
    "spec",
    [
        RESOURCE,
        quote(f"https://www.hydroshare.org/resource/{RESOURCE}/", safe=""),
        quote(f"https://hydroshare.org/resource/{RESOURCE}", safe=""),
    ],
)
def test_hydroshare_resolves_to_the_last_change(hydroshare: Web, spec: str) -> None:
    repo = make_resolver(hydroshare).resolve("hydroshare", spec)
    assert repo.ref == f"{RESOURCE}.v{MODIFIED}"
    assert repo.repo_url == repo.ref_url == f"https://www.hydroshare.org/resource/{RESOURCE}"
    assert repo.resolved_spec == RESOURCE
    assert repo.repo_key == f"hydroshare:{RESOURCE}"
    assert hydroshare.hosts() == ["www.hydroshare.org"]  # never the host named in the spec


def test_hydroshare_redirect_is_followed(hydroshare: Web) -> None:
    hydroshare.redirect(SCIMETA, f"https://www.hydroshare.org/hsapi2/{RESOURCE}/", status=301)
    hydroshare.json(f"https://www.hydroshare.org/hsapi2/{RESOURCE}/", scimeta())
    assert make_resolver(hydroshare).resolve("hydroshare", RESOURCE).ref.endswith(str(MODIFIED))


@pytest.mark.parametrize(("status", "code"), [(404, 404), (403, 403), (401, 403)])
def test_hydroshare_missing_or_private_resource(hydroshare: Web, status: int, code: int) -> None:
    hydroshare.json(SCIMETA, {"detail": "No resource was found for resource id."}, status=status)
    with pytest.raises(ResolveError, match=f"HydroShare has no public resource {RESOURCE}") as e:
        make_resolver(hydroshare).resolve("hydroshare", RESOURCE)
    assert e.value.status_code == code


def test_hydroshare_rate_limit_and_garbage(hydroshare: Web) -> None:
    hydroshare.add(SCIMETA, httpx.Response(429, headers={"Retry-After": "61"}))
    with pytest.raises(ProviderUnavailableError, match="HydroShare rate limit exceeded"):
        make_resolver(hydroshare).resolve("hydroshare", RESOURCE)
    hydroshare.json(SCIMETA, {"dates": [{"type": "modified", "start_date": "yesterday"}]})
    with pytest.raises(ProviderUnavailableError, match="unexpected answer"):
        make_resolver(hydroshare).resolve("hydroshare", RESOURCE)


def test_hydroshare_record_is_its_bag(hydroshare: Web) -> None:
    record = (
        make_resolver(hydroshare)
        .data_providers()["hydroshare"]
        .record(f"https://www.hydroshare.org/resource/{RESOURCE}", f"{RESOURCE}.v{MODIFIED}")
    )
    assert record.files == (
        RemoteFile(
            f"{RESOURCE}.zip",
            f"https://www.hydroshare.org/django_irods/download/bags/{RESOURCE}.zip",
            expect_zip=True,
        ),
    )
    assert (record.unzip, record.keep) == (True, f"{RESOURCE}/data/contents")


# --- CKAN ----------------------------------------------------------------------------------

SITE = "https://demo.ckan.org"
DATASET = f"{SITE}/dataset/sample-dataset-1"
PACKAGE_SHOW = f"{SITE}/api/3/action/package_show?id=sample-dataset-1"
ACTIVITY = "6a8a4b2e-53c7-4b4f-9c3a-1f0e2d3c4b5a"
RESOURCES = [
    {
        "id": "e687245d-7835-44b0-8ed3-0827de123895",
        "url": f"{SITE}/dataset/c322307a/resource/e687245d/download/sample-linked.csv",
        "url_type": "upload",
        "format": "CSV",
    },
    {"id": "f1", "url": "https://example.com/exports/data.json?format=raw", "format": "JSON"},
    {"id": "f2", "url": "", "format": "HTML"},
]


def package(modified: str = "2023-08-10T14:32:31.918204") -> dict[str, object]:
    """GET /api/3/action/package_show?id=sample-dataset-1, shortened."""
    return {
        "help": f"{SITE}/api/3/action/help_show?name=package_show",
        "success": True,
        "result": {
            "id": "c322307a-b871-44fe-a602-32ee8437ff04",
            "name": "sample-dataset-1",
            "metadata_modified": modified,
            "resources": RESOURCES,
        },
    }


@pytest.fixture
def ckan() -> Web:
    web = Web()
    web.json(PACKAGE_SHOW, package())
    activity = {
        "success": True,
        "result": {
            "id": ACTIVITY,
            "timestamp": "2023-08-10T15:00:02.5",
            "activity_type": "changed package",
            "data": {"package": {"name": "sample-dataset-1", "resources": RESOURCES[:1]}},
        },
    }
    web.json(f"{SITE}/api/3/action/activity_show", activity)
    return web


def ckan_spec(url: str) -> str:
    return quote(url, safe="")


def test_ckan_dataset_resolves_to_its_last_change(ckan: Web) -> None:
    repo = make_resolver(ckan).resolve("ckan", ckan_spec(DATASET))
    assert repo.ref == "sample-dataset-1.v1691677951"
    assert repo.repo_url == repo.ref_url == DATASET
    assert repo.resolved_spec == ckan_spec(DATASET)
    assert repo.repo_key == "ckan:demo.ckan.org/sample-dataset-1"
    assert ckan.urls() == [PACKAGE_SHOW]


@pytest.mark.parametrize(
    "url", [f"{DATASET}/history/{ACTIVITY}", f"{DATASET}?activity_id={ACTIVITY}"]
)
def test_ckan_activity_pins_the_version(ckan: Web, url: str) -> None:
    repo = make_resolver(ckan).resolve("ckan", ckan_spec(url))
    assert repo.ref == "sample-dataset-1.v1691679602"
    assert ckan.urls() == [f"{SITE}/api/3/action/activity_show?id={ACTIVITY}"]


def test_ckan_under_a_path_prefix(ckan: Web) -> None:
    ckan.json(f"{SITE}/data/api/3/action/package_show", package("2023-08-10T14:32:31"))
    repo = make_resolver(ckan).resolve("ckan", ckan_spec(f"{SITE}/data/dataset/sample-dataset-1"))
    assert repo.ref == "sample-dataset-1.v1691677951"
    assert repo.repo_key == "ckan:demo.ckan.org/data/sample-dataset-1"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, {"message": "Not found", "__type": "Not Found Error"}),
        (403, {"message": "User  not authorized to read package", "__type": "Authorization Error"}),
        (400, {"message": "Bad request", "__type": "Validation Error"}),
    ],
)
def test_ckan_missing_or_private_dataset(ckan: Web, status: int, error: dict[str, str]) -> None:
    body = {"help": "...", "success": False, "error": error}
    ckan.json(PACKAGE_SHOW, body, status=status)
    with pytest.raises(ResolveError, match="Could not find the CKAN dataset"):
        make_resolver(ckan).resolve("ckan", ckan_spec(DATASET))


def test_ckan_rate_limit(ckan: Web) -> None:
    ckan.add(PACKAGE_SHOW, httpx.Response(429, headers={"Retry-After": "5"}))
    with pytest.raises(ProviderUnavailableError, match="The CKAN site rate limit exceeded"):
        make_resolver(ckan).resolve("ckan", ckan_spec(DATASET))


def test_ckan_http_to_https_redirect_is_followed(ckan: Web) -> None:
    ckan.redirect(
        "http://demo.ckan.org/api/3/action/package_show",
        f"{SITE}/api/3/action/package_show?id=sample-dataset-1",
        301,
    )
    repo = make_resolver(ckan).resolve(
        "ckan", ckan_spec("http://demo.ckan.org/dataset/sample-dataset-1")
    )
    assert repo.ref == "sample-dataset-1.v1691677951"


def test_ckan_site_on_a_private_network_is_refused(ckan: Web) -> None:
    dns = FakeDns({"ckan.internal.example": ["172.31.0.10"]})
    spec = ckan_spec("https://ckan.internal.example/dataset/x")
    with pytest.raises(UnsafeUrlError) as caught:
        make_resolver(ckan, dns=dns).resolve("ckan", spec)
    assert caught.value.status_code == 400
    assert ckan.requests == []


def test_ckan_record_lists_resources(ckan: Web) -> None:
    provider = make_resolver(ckan).data_providers()["ckan"]
    record = provider.record(DATASET, "sample-dataset-1.v1691677951")
    assert [(f.path, f.url) for f in record.files] == [
        ("sample-linked.csv", RESOURCES[0]["url"]),
        ("data.json", RESOURCES[1]["url"]),
    ]
    pinned = provider.record(f"{DATASET}/history/{ACTIVITY}", "sample-dataset-1.v1691679602")
    assert [f.path for f in pinned.files] == ["sample-linked.csv"]
