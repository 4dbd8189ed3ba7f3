"""VenvBuilder builds a data record (Zenodo here) fetched through the provider's API, with uv."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx

from skybinder.adapters.local.data_fetch import DataFetcher
from skybinder.adapters.local.images import ImageLayout
from skybinder.adapters.local.venv_builder import VenvBuilder
from skybinder.service.ports import BuildJob
from tests.containment import containment
from tests.integration.test_venv_builder import BASE, Finished, messages
from tests.provider_fakes import Web, make_resolver
from tests.unit.test_doi_providers import zenodo_record

RECORD = 3242074
CONTENT = f"https://zenodo.org/api/records/{RECORD}/files/requirements-v1.0.zip/content"


def release_zip() -> bytes:
    """A GitHub release archive as Zenodo keeps it: everything in one top folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("binder-examples-requirements-9f1ec1c/requirements.txt", "iniconfig\n")
        archive.writestr("binder-examples-requirements-9f1ec1c/index.ipynb", "{}")
    return buffer.getvalue()


def builder(tmp_path: Path, web: Web, finished: Finished) -> VenvBuilder:
    resolver = make_resolver(web, allow_local=True)
    data = DataFetcher(resolver.data_providers(), resolver.http)
    return VenvBuilder(
        tmp_path / "data", finished, base_packages=BASE, data=data, containment=containment()
    )


def job(name: str) -> BuildJob:
    return BuildJob(
        image_name=name, repo_url=f"10.5281/zenodo.{RECORD}", ref=str(RECORD), provider="zenodo"
    )


def test_a_zenodo_record_is_downloaded_unpacked_and_built(tmp_path: Path) -> None:
    web = Web()
    web.json(f"https://zenodo.org/api/records/{RECORD}", zenodo_record(RECORD))
    web.add(CONTENT, httpx.Response(200, content=release_zip()))
    finished = Finished()
    local = builder(tmp_path, web, finished)
    build_id = local.start(job("skybinder-zenodo-1:3242074"))
    assert finished.wait("skybinder-zenodo-1:3242074") == (True, "")
    image = ImageLayout(tmp_path / "data").load("skybinder-zenodo-1:3242074")
    assert image is not None
    assert sorted(p.name for p in Path(image.source).iterdir()) == [
        "index.ipynb",
        "requirements.txt",
    ]
    assert "Using Python" in messages(local, build_id)
    assert (Path(image.env) / "bin" / "python").exists()


def test_a_record_that_is_gone_fails_the_build_with_the_reason(tmp_path: Path) -> None:
    finished = Finished()
    local = builder(tmp_path, Web(), finished)
    build_id = local.start(job("skybinder-zenodo-2:3242074"))
    ok, reason = finished.wait("skybinder-zenodo-2:3242074")
    assert not ok
    assert reason == "Could not fetch 10.5281/zenodo.3242074: Zenodo has no record 3242074."
    assert reason in messages(local, build_id)
