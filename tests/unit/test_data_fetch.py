"""DataFetcher: a data record's files downloaded into the build directory, zips unpacked safely."""

from __future__ import annotations

import io
import re
import stat
import zipfile
from pathlib import Path

import httpx
import pytest

from skybinder.adapters.local.data_fetch import ZIP_TRIES, DataFetcher
from skybinder.adapters.providers.base import DataProvider, DataRecord, RemoteFile
from skybinder.adapters.providers.guard import UrlGuard
from skybinder.adapters.providers.safe_http import SafeHttp
from skybinder.domain.errors import BuildError, ResolveError
from skybinder.service.ports import BuildJob
from tests.provider_fakes import FakeDns, Web, make_resolver
from tests.unit.test_doi_providers import zenodo_record

FILES = "https://files.example.org"


def zip_bytes(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


class Record(DataProvider):
    """A data provider whose record is whatever the test says."""

    prefix = "zenodo"

    def __init__(self, record: DataRecord | Exception) -> None:
        self.answer = record

    def record(self, repo_url: str, ref: str) -> DataRecord:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Say(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


def fetcher(web: Web, record: DataRecord | Exception, **options: int) -> DataFetcher:
    http = SafeHttp(web.client(), UrlGuard(allow_local=True))
    return DataFetcher({"zenodo": Record(record)}, http, sleep=lambda _: None, **options)


def job(provider: str = "zenodo") -> BuildJob:
    return BuildJob(image_name="i", repo_url="10.5281/zenodo.1", ref="1", provider=provider)


def listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_files_are_downloaded_into_their_folders(tmp_path: Path) -> None:
    web = Web()
    web.add(f"{FILES}/1", httpx.Response(200, content=b"numpy\n"))
    web.add(f"{FILES}/2", httpx.Response(200, content=b"a,b\n1,2\n"))
    record = DataRecord(
        files=(
            RemoteFile("binder/requirements.txt", f"{FILES}/1"),
            RemoteFile("data.csv", f"{FILES}/2"),
        )
    )
    say = Say()
    fetcher(web, record).fetch(job(), tmp_path / "src", say)
    assert listing(tmp_path / "src") == ["binder/requirements.txt", "data.csv"]
    assert (tmp_path / "src" / "data.csv").read_bytes() == b"a,b\n1,2\n"
    assert say[0] == "Fetching the zenodo record 10.5281/zenodo.1 (version 1)"


def test_zenodo_software_archive_is_unpacked_without_its_top_folder(tmp_path: Path) -> None:
    archive = zip_bytes(
        {
            "binder-examples-requirements-9f1ec1c/requirements.txt": b"numpy\n",
            "binder-examples-requirements-9f1ec1c/index.ipynb": b"{}",
            "binder-examples-requirements-9f1ec1c/binder/postBuild": b"echo hi\n",
        }
    )
    web = Web()
    web.json("https://zenodo.org/api/records/3242074", zenodo_record(3242074))
    content = "https://zenodo.org/api/records/3242074/files/requirements-v1.0.zip/content"
    web.add(content, httpx.Response(200, content=archive))
    resolver = make_resolver(web, allow_local=True)
    data = DataFetcher(resolver.data_providers(), resolver.http)
    build = BuildJob(
        image_name="i", repo_url="10.5281/zenodo.3242074", ref="3242074", provider="zenodo"
    )
    data.fetch(build, tmp_path / "src", Say())
    assert listing(tmp_path / "src") == ["binder/postBuild", "index.ipynb", "requirements.txt"]
    assert not (tmp_path / "src" / "binder-examples").exists()  # the archive's own folder


def test_hydroshare_bag_is_awaited_then_reduced_to_its_contents(tmp_path: Path) -> None:
    bag = zip_bytes(
        {
            "b8f6/bagit.txt": b"BagIt-Version: 0.96\n",
            "b8f6/data/resourcemap.xml": b"<rdf/>",
            "b8f6/data/contents/requirements.txt": b"pandas\n",
            "b8f6/data/contents/notebooks/a.ipynb": b"{}",
        }
    )
    answers = iter(
        [
            httpx.Response(200, json={"status": "Not ready", "task_id": "1"}),
            httpx.Response(202, text="Accepted"),
            httpx.Response(200, content=bag, headers={"Content-Type": "application/zip"}),
        ]
    )
    web = Web()
    web.add(f"{FILES}/bag.zip", lambda request: next(answers))
    remote = RemoteFile("b8f6.zip", f"{FILES}/bag.zip", expect_zip=True)
    say = Say()
    fetcher(web, DataRecord((remote,), unzip=True, keep="b8f6/data/contents")).fetch(
        job(), tmp_path / "src", say
    )
    assert listing(tmp_path / "src") == ["notebooks/a.ipynb", "requirements.txt"]
    assert sum("is being prepared" in line for line in say) == 2


def test_a_bag_that_never_gets_ready_fails_the_build(tmp_path: Path) -> None:
    web = Web()
    web.add(f"{FILES}/bag.zip", httpx.Response(200, html="<p>preparing</p>"))
    remote = RemoteFile("b.zip", f"{FILES}/bag.zip", expect_zip=True)
    with pytest.raises(BuildError, match="took too long to be prepared"):
        fetcher(web, DataRecord((remote,), unzip=True)).fetch(job(), tmp_path / "src", Say())
    assert len(web.requests) == ZIP_TRIES + 1


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/etc/cron.d/evil", "a/../../evil", "a\\..\\..\\x"]
)
def test_names_leading_outside_the_build_directory_are_refused(tmp_path: Path, name: str) -> None:
    web = Web()
    web.add(f"{FILES}/1", httpx.Response(200, content=b"x"))
    with pytest.raises(BuildError, match="outside the build directory"):
        fetcher(web, DataRecord((RemoteFile(name, f"{FILES}/1"),))).fetch(
            job(), tmp_path / "src", Say()
        )
    assert listing(tmp_path) == []


@pytest.mark.parametrize("member", ["../../evil.txt", "/tmp/evil.txt"])
def test_zip_members_leading_outside_are_refused(tmp_path: Path, member: str) -> None:
    web = Web()
    web.add(f"{FILES}/a.zip", httpx.Response(200, content=zip_bytes({member: b"x", "ok": b"y"})))
    with pytest.raises(BuildError, match="outside the build directory"):
        fetcher(web, DataRecord((RemoteFile("a.zip", f"{FILES}/a.zip"),), unzip=True)).fetch(
            job(), tmp_path / "src", Say()
        )
    assert not (tmp_path / "evil.txt").exists()


def test_links_inside_archives_are_skipped(tmp_path: Path) -> None:
    archive = zip_bytes({"top/ok.txt": b"fine"}, links={"top/passwd": "/etc/passwd"})
    web = Web()
    web.add(f"{FILES}/a.zip", httpx.Response(200, content=archive))
    fetcher(web, DataRecord((RemoteFile("a.zip", f"{FILES}/a.zip"),), unzip=True)).fetch(
        job(), tmp_path / "src", Say()
    )
    assert listing(tmp_path / "src") == ["ok.txt"]


def test_sizes_are_bounded_when_downloading_and_unpacking(tmp_path: Path) -> None:
    web = Web()
    web.add(f"{FILES}/big", httpx.Response(200, content=b"x" * 4096))
    with pytest.raises(BuildError, match="larger than"):
        fetcher(web, DataRecord((RemoteFile("big", f"{FILES}/big"),)), max_bytes=1024).fetch(
            job(), tmp_path / "a", Say()
        )
    bomb = zip_bytes({"top/zeros": b"\0" * 1_000_000})
    web.add(f"{FILES}/bomb.zip", httpx.Response(200, content=bomb))
    with pytest.raises(BuildError, match="unpacks to more than"):
        record = DataRecord((RemoteFile("bomb.zip", f"{FILES}/bomb.zip"),), unzip=True)
        fetcher(web, record, max_bytes=100_000).fetch(job(), tmp_path / "b", Say())


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.Response(404, text="gone"), r"Could not download data.csv .*\(HTTP 404\)"),
        (
            httpx.Response(429, headers={"Retry-After": "120"}),
            "rate limiting downloads. Try again in 2",
        ),
    ],
)
def test_download_failures_fail_the_build(
    tmp_path: Path, answer: httpx.Response, message: str
) -> None:
    web = Web()
    web.add(f"{FILES}/1", answer)
    with pytest.raises(BuildError, match=message):
        fetcher(web, DataRecord((RemoteFile("data.csv", f"{FILES}/1"),))).fetch(
            job(), tmp_path / "src", Say()
        )


def test_provider_errors_and_empty_records_fail_the_build(tmp_path: Path) -> None:
    gone = ResolveError("Zenodo has no record 1.")
    with pytest.raises(
        BuildError, match=re.escape("Could not fetch 10.5281/zenodo.1: Zenodo has no record 1.")
    ):
        fetcher(Web(), gone).fetch(job(), tmp_path / "a", Say())
    with pytest.raises(BuildError, match="has no public files"):
        fetcher(Web(), DataRecord(files=())).fetch(job(), tmp_path / "b", Say())


def test_downloads_pass_the_guard_in_the_cloud(tmp_path: Path) -> None:
    dns = FakeDns({"files.internal": ["10.0.0.3"]})
    http = SafeHttp(Web().client(), UrlGuard(allow_local=False, getaddrinfo=dns))
    record = DataRecord((RemoteFile("x", "http://files.internal/x"),))
    data = DataFetcher({"zenodo": Record(record)}, http)
    with pytest.raises(BuildError, match="local or private network"):
        data.fetch(job(), tmp_path / "src", Say())


def test_only_data_providers_are_handled() -> None:
    assert fetcher(Web(), DataRecord(files=())).handles("zenodo")
    assert not fetcher(Web(), DataRecord(files=())).handles("gh")
