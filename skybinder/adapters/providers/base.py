"""The base classes of repository and data providers, and the image-name slug helper."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from skybinder.domain.environment import NoKey, TreeReader, read_digest
from skybinder.domain.errors import SkybinderError
from skybinder.service.ports import ResolvedRepo

if TYPE_CHECKING:
    from skybinder.adapters.providers.safe_http import SafeHttp

S = TypeVar("S")
log = logging.getLogger(__name__)

SLUG_MAX_LENGTH = 40
SLUG_HASH_LENGTH = 8


class RepoProvider(ABC, Generic[S]):
    """One provider prefix (gh, git, ...): parses its specs and pins them to an immutable ref.

    `resolve` runs the hooks in order: `parse` -> `resolve_ref` -> `describe`. Subclasses
    implement the hooks; ProviderResolver picks a provider by `prefix` from an ordered list.
    """

    prefix: str

    def resolve(self, spec: str, *, environment: bool = False) -> ResolvedRepo:
        """Parse `spec` and resolve its ref; raises the errors listed on the Resolver port.
        With `environment`, the environment digest is read too (without cloning)."""
        parsed = self.parse(spec)
        notices: list[str] = []
        ref = self.resolve_ref(parsed, notices)
        repo = self.describe(spec.rstrip("/"), parsed, ref)
        digest = self.read_environment(parsed, ref, repo.repo_url) if environment else ""
        return repo.model_copy(update={"notices": notices, "env_digest": digest})

    def environment_reader(self, parsed: S, ref: str) -> TreeReader | None:
        """A reader of the repository's tree at `ref`; None when the provider has none (data
        records, gists): their images are built per commit."""
        return None

    def read_environment(self, parsed: S, ref: str, repo_url: str) -> str:
        """The environment digest at `ref`, or "" when there is none or it cannot be read:
        an image per commit is always right, so no failure here fails the launch."""
        reader = self.environment_reader(parsed, ref)
        if reader is None:
            return ""
        try:
            return read_digest(reader)
        except NoKey as no:
            log.info("%s@%s has no environment key: %s", repo_url, ref[:12], no.reason)
        except SkybinderError as err:
            log.warning("could not read the tree of %s@%s: %s", repo_url, ref[:12], err.message)
        except Exception:  # an answer of a shape we did not expect: per commit, as always
            log.exception("reading the tree of %s@%s failed", repo_url, ref[:12])
        return ""

    @abstractmethod
    def parse(self, spec: str) -> S:
        """The parsed spec. Raises SpecError when `spec` breaks the provider's rules."""

    @abstractmethod
    def resolve_ref(self, parsed: S, notices: list[str]) -> str:
        """The immutable ref (a commit sha for git) that `parsed` points at now.

        May append messages for the user to `notices`. Raises ResolveError when the repository
        or ref does not exist, ProviderUnavailableError when the provider cannot answer.
        """

    @abstractmethod
    def describe(self, spec: str, parsed: S, ref: str) -> ResolvedRepo:
        """The ResolvedRepo of `parsed` pinned to `ref`; no I/O, notices are added by `resolve`."""

    def display_config(self) -> dict[str, object] | None:
        """This provider's /api/repoproviders entry; None keeps it off the list."""
        return None


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data record: where it goes in the build directory, and where it is."""

    path: str  # relative, "/"-separated; checked again by whoever writes it
    url: str
    expect_zip: bool = False  # prepared on demand: retry while the server has no zip yet


@dataclass(frozen=True)
class DataRecord:
    """The files of a data record (Zenodo, Figshare, ...) at one version."""

    files: tuple[RemoteFile, ...]
    unzip: bool = False  # a single zip file is unpacked in place, as repo2docker does
    keep: str | None = None  # after unpacking, only this folder's contents are kept


class DataProvider(ABC):
    """A provider whose repositories are data records, downloaded file by file, through the
    SSRF-safe client; `now` dates the refs of records that have no version of their own."""

    prefix: str

    def __init__(self, http: SafeHttp, *, now: Callable[[], float] = time.time) -> None:
        self._http = http
        self._now = now

    @abstractmethod
    def record(self, repo_url: str, ref: str) -> DataRecord:
        """The files of the record `repo_url` at the resolved `ref` (what `resolve` gave).

        Raises ResolveError when the record is gone, ProviderUnavailableError when the
        provider cannot answer.
        """


def data_display_config(prefix: str, name: str, label: str, example: str) -> dict[str, object]:
    """The /api/repoproviders entry of a provider whose spec is one identifier and no ref."""
    return {
        "id": prefix,
        "displayName": name,
        "spec": {"validateRegex": r".+"},
        "repo": {"label": label, "placeholder": f"example: {example}", "urlEncode": False},
        "ref": {"enabled": False},
    }


def make_slug(prefix: str, name: str, identity: str) -> str:
    """A docker-image-name-safe slug such as "gh-binder-examples-requirements-1a2b3c4d".

    Lower-case [a-z0-9-], dashes collapsed, at most SLUG_MAX_LENGTH characters. The readable
    part may be cut or may coincide for two repositories ("a.b" and "a-b"), so a hash of the
    exact `identity` (the repo_key) ends the slug to keep different repositories apart.
    """
    digest = hashlib.sha256(identity.encode()).hexdigest()[:SLUG_HASH_LENGTH]
    readable = re.sub(r"[^a-z0-9]+", "-", f"{prefix}-{name}".lower()).strip("-")
    readable = readable[: SLUG_MAX_LENGTH - SLUG_HASH_LENGTH - 1].rstrip("-")
    return f"{readable}-{digest}" if readable else digest
