"""DataFetcher: downloads a data record's files into a build directory, for the local builder.

In the cloud repo2docker fetches Zenodo, Figshare, Dataverse, HydroShare and CKAN records
itself; locally this does the same through each provider's API (DataProvider.record) and
SafeHttp, then unpacks a single zip the way repo2docker does.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from skybinder.adapters.local.unpack import safe_path, unpack_zip
from skybinder.adapters.providers.answers import minutes, rate_limit_wait
from skybinder.adapters.providers.base import DataProvider, RemoteFile
from skybinder.adapters.providers.safe_http import Reply, SafeHttp
from skybinder.domain.errors import BuildError, SkybinderError
from skybinder.service.ports import BuildJob

MAX_BYTES = 5 * 2**30  # a whole record, downloaded and unpacked
MAX_FILES = 10_000
ZIP_WAIT = 10.0  # seconds between asks for an archive that is being prepared
ZIP_TRIES = 12


class DataFetcher:
    """Fetches the records of the data providers in `providers` (prefix -> provider)."""

    def __init__(
        self,
        providers: Mapping[str, DataProvider],
        http: SafeHttp,
        *,
        max_bytes: int = MAX_BYTES,
        max_files: int = MAX_FILES,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.providers = dict(providers)
        self._http = http
        self.max_bytes = max_bytes
        self.max_files = max_files
        self._sleep = sleep

    def handles(self, provider: str) -> bool:
        return provider in self.providers

    def fetch(self, job: BuildJob, dest: Path, say: Callable[[str], None]) -> None:
        """Download `job`'s record into the new directory `dest`; BuildError says what failed."""
        say(f"Fetching the {job.provider} record {job.repo_url} (version {job.ref})")
        try:
            record = self.providers[job.provider].record(job.repo_url, job.ref)
            if not record.files:
                raise BuildError(f"The record {job.repo_url} has no public files to launch.")
            if len(record.files) > self.max_files:
                raise BuildError(
                    f"The record {job.repo_url} has {len(record.files)} files; this binder "
                    f"fetches at most {self.max_files}."
                )
            dest.mkdir(parents=True)
            written: list[Path] = []
            used = 0
            for remote in record.files:
                written.append(self._download(remote, dest, say, self.max_bytes - used))
                used += written[-1].stat().st_size
            if record.unzip and len(written) == 1 and zipfile.is_zipfile(written[0]):
                say(f"Unpacking {written[0].name}")
                count = unpack_zip(written[0], dest, keep=record.keep, max_bytes=self.max_bytes)
                say(f"Unpacked {count} files")
        except BuildError:
            raise
        except SkybinderError as err:
            raise BuildError(f"Could not fetch {job.repo_url}: {err.message}") from err
        say(f"Fetched {job.repo_url}")

    def _download(
        self, remote: RemoteFile, dest: Path, say: Callable[[str], None], budget: int
    ) -> Path:
        target = safe_path(dest, remote.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        say(f"Downloading {remote.path}")
        for attempt in range(ZIP_TRIES + 1):
            reply = self._http.download(
                remote.url, target, what=urlsplit(remote.url).netloc, max_bytes=budget
            )
            if not (remote.expect_zip and _being_prepared(reply)) or attempt == ZIP_TRIES:
                break
            say(f"{remote.path} is being prepared; asking again in {ZIP_WAIT:.0f} seconds")
            self._sleep(ZIP_WAIT)
        _check(reply, remote)
        if remote.expect_zip and _being_prepared(reply):
            raise BuildError(f"{remote.path} took too long to be prepared. Try again later.")
        return target


def _being_prepared(reply: Reply) -> bool:
    content_type = reply.headers.get("content-type", "")
    return reply.status_code == 202 or (reply.status_code == 200 and "zip" not in content_type)


def _check(reply: Reply, remote: RemoteFile) -> None:
    if reply.status_code in (200, 202):
        return
    wait = rate_limit_wait(reply, time.time)
    if wait is not None:
        raise BuildError(
            f"{urlsplit(remote.url).netloc} is rate limiting downloads. Try again in "
            f"{minutes(wait)}."
        )
    raise BuildError(
        f"Could not download {remote.path} from {remote.url} (HTTP {reply.status_code})."
    )
