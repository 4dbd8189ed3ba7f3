"""Parse and validate /build and /v2 specs for the nine BinderHub provider prefixes.

Each prefix has a parse function returning a small frozen dataclass; `parse_spec` picks one.
Specs arrive still percent-encoded, as in the URL path; every part is decoded exactly once.
The shared rules (ref names, URLs, messages) live in `spec_rules`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from skybinder.domain.errors import SpecError
from skybinder.domain.spec_rules import (
    FORMS,
    PROVIDERS,
    check_provider,
    check_ref,
    decode,
    git_url,
    is_sha1,
    prepare,
    show,
    spec_error,
    split_url,
)

__all__ = [
    "FORMS",
    "PROVIDERS",
    "CkanSpec",
    "DataverseSpec",
    "FigshareSpec",
    "GistSpec",
    "GitHubSpec",
    "GitLabSpec",
    "GitSpec",
    "HydroshareSpec",
    "ParsedSpec",
    "ZenodoSpec",
    "is_sha1",
    "parse_ckan",
    "parse_dataverse",
    "parse_figshare",
    "parse_gist",
    "parse_git",
    "parse_github",
    "parse_gitlab",
    "parse_hydroshare",
    "parse_spec",
    "parse_zenodo",
    "split_path",
]

GITHUB_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
GITHUB_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
GIST_ID = re.compile(r"[0-9a-fA-F]{1,64}")
GITLAB_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")
ZENODO_DOI = re.compile(r"10\.(?:5281|5072)/zenodo\.([0-9]{1,12})", re.IGNORECASE)
FIGSHARE_DOI = re.compile(r"10\.6084/m9\.figshare\.([0-9]{1,12})(?:\.v([1-9][0-9]{0,5}))?", re.I)
DOI = re.compile(r"10\.[0-9]{4,9}/[A-Za-z0-9._;()/:-]{1,200}")
HYDROSHARE_ID = re.compile(r"[0-9a-f]{32}")
CKAN_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
GIST_LATEST = frozenset({"HEAD", "master", "main"})
GH_PARTS = ("the user", "the repository", "the ref")


@dataclass(frozen=True, slots=True)
class GitHubSpec:
    user: str
    repo: str  # without a ".git" suffix
    ref: str


@dataclass(frozen=True, slots=True)
class GistSpec:
    user: str
    gist_id: str
    revision: str  # "" when absent: the newest revision


@dataclass(frozen=True, slots=True)
class GitLabSpec:
    namespace: str  # decoded, e.g. "group/subgroup/project"
    ref: str


@dataclass(frozen=True, slots=True)
class GitSpec:
    url: str  # decoded clone URL; scp-like forms become ssh://, local paths file://
    ref: str


@dataclass(frozen=True, slots=True)
class ZenodoSpec:
    doi: str
    record_id: str


@dataclass(frozen=True, slots=True)
class FigshareSpec:
    doi: str
    article_id: str
    version: int | None


@dataclass(frozen=True, slots=True)
class DataverseSpec:
    doi: str


@dataclass(frozen=True, slots=True)
class HydroshareSpec:
    resource_id: str


@dataclass(frozen=True, slots=True)
class CkanSpec:
    url: str  # the dataset URL, decoded
    dataset_id: str
    activity_id: str | None


ParsedSpec: TypeAlias = (
    GitHubSpec
    | GistSpec
    | GitLabSpec
    | GitSpec
    | ZenodoSpec
    | FigshareSpec
    | DataverseSpec
    | HydroshareSpec
    | CkanSpec
)


def split_path(path: str) -> tuple[str, str]:
    """Split a raw "<provider>/<spec>" path (still percent-encoded) into (provider, spec)."""
    provider, _, spec = path.lstrip("/").partition("/")
    spec = spec.rstrip("/")  # BinderHub strips a trailing slash
    if not provider or not spec:
        raise SpecError(f"Expected <provider>/<spec>, e.g. {FORMS['gh'][1]}; got {show(path)}.")
    check_provider(provider)
    return provider, spec


def parse_spec(provider: str, spec: str, *, allow_local: bool = False) -> ParsedSpec:
    """Parse `spec` by `provider`'s rules; `allow_local` admits file:// URLs and local paths."""
    check_provider(provider)
    if provider == "git":
        return parse_git(spec, allow_local=allow_local)
    return _PARSERS[provider](spec)


def check_github_user(provider: str, user: str) -> None:
    if not GITHUB_USER.fullmatch(user):
        raise spec_error(provider, f"{show(user)} is not a GitHub user or organisation name")


def parse_github(spec: str) -> GitHubSpec:
    spec = prepare("gh", spec)
    parts = spec.split("/", 2)  # the ref may contain "/"
    if len(parts) < 3 or not all(parts):
        hint = f" (did you mean {show(spec + '/HEAD')}?)" if len(parts) == 2 else ""
        raise spec_error("gh", f"the user, repository or ref is missing{hint}")
    user, repo, ref = (decode("gh", part, what) for part, what in zip(parts, GH_PARTS, strict=True))
    repo = repo.removesuffix(".git")
    check_github_user("gh", user)
    if not GITHUB_REPO.fullmatch(repo) or repo in (".", ".."):
        raise spec_error("gh", f"{show(repo)} is not a GitHub repository name")
    return GitHubSpec(user, repo, check_ref("gh", ref))


def parse_gist(spec: str) -> GistSpec:
    spec = prepare("gist", spec)
    parts = [decode("gist", part, "the spec") for part in spec.split("/")]
    if len(parts) not in (2, 3) or not all(parts):
        raise spec_error("gist", "expected a user, a gist id and optionally a revision")
    check_github_user("gist", parts[0])
    if not GIST_ID.fullmatch(parts[1]):
        raise spec_error("gist", f"{show(parts[1])} is not a gist id")
    revision = parts[2] if len(parts) == 3 else ""
    if revision and revision not in GIST_LATEST and not is_sha1(revision):
        raise spec_error("gist", "the revision must be HEAD or a 40-character revision sha")
    return GistSpec(parts[0], parts[1], revision)


def parse_gitlab(spec: str) -> GitLabSpec:
    spec = prepare("gl", spec)
    escaped, _, raw_ref = spec.partition("/")
    parts = decode("gl", escaped, "the namespace").removesuffix(".git").split("/")
    if len(parts) < 2 or not all(GITLAB_PART.fullmatch(p) for p in parts):
        raise spec_error("gl", "the namespace must be url-escaped <group>%2F<project>")
    if any(p.endswith((".git", ".atom")) for p in parts):
        raise spec_error("gl", "namespace parts may not end with .git or .atom")
    return GitLabSpec("/".join(parts), check_ref("gl", decode("gl", raw_ref, "the ref")))


def parse_git(spec: str, *, allow_local: bool = False) -> GitSpec:
    spec = prepare("git", spec)
    escaped, _, raw_ref = spec.partition("/")
    if not escaped or escaped.endswith(":") or raw_ref.startswith("/"):
        # "https://host/x" unescaped splits into "https:" and "/host/x".
        raise spec_error("git", "the clone URL is missing or not url-escaped")
    url = git_url(decode("git", escaped, "the URL"), allow_local=allow_local)
    return GitSpec(url, check_ref("git", decode("git", raw_ref, "the ref")))


def parse_zenodo(spec: str) -> ZenodoSpec:
    spec = prepare("zenodo", spec)
    doi = decode("zenodo", spec, "the DOI")
    match = ZENODO_DOI.fullmatch(doi)
    if not match:
        raise spec_error("zenodo", f"{show(doi)} is not a Zenodo DOI")
    return ZenodoSpec(doi, match.group(1))


def parse_figshare(spec: str) -> FigshareSpec:
    spec = prepare("figshare", spec)
    doi = decode("figshare", spec, "the DOI")
    match = FIGSHARE_DOI.fullmatch(doi)
    if not match:
        raise spec_error("figshare", f"{show(doi)} is not a Figshare DOI")
    version = int(match.group(2)) if match.group(2) else None
    return FigshareSpec(doi, match.group(1), version)


def parse_dataverse(spec: str) -> DataverseSpec:
    spec = prepare("dataverse", spec)
    doi = decode("dataverse", spec, "the DOI")
    parts = doi.split("/")
    if not DOI.fullmatch(doi) or not all(parts) or {".", ".."} & set(parts):
        raise spec_error("dataverse", f"{show(doi)} is not a DOI")
    return DataverseSpec(doi)


def parse_hydroshare(spec: str) -> HydroshareSpec:
    spec = prepare("hydroshare", spec)
    text = decode("hydroshare", spec, "the resource")
    if HYDROSHARE_ID.fullmatch(text):
        return HydroshareSpec(text)
    if "://" not in text:
        raise spec_error("hydroshare", f"{show(text)} is neither a resource id nor a URL")
    path = split_url("hydroshare", text, ("http", "https")).path
    ids = [part for part in path.split("/") if HYDROSHARE_ID.fullmatch(part)]
    if len(ids) != 1:
        raise spec_error("hydroshare", "no 32-character resource id found")
    return HydroshareSpec(ids[0])


def parse_ckan(spec: str) -> CkanSpec:
    spec = prepare("ckan", spec)
    url = decode("ckan", spec, "the URL")
    parts = split_url("ckan", url, ("http", "https"))
    _, found, tail = parts.path.partition("/dataset/")
    dataset_id, _, history = tail.partition("/")
    if not found or not CKAN_ID.fullmatch(dataset_id):
        raise spec_error("ckan", "the URL must contain /dataset/<dataset id>")
    activity = None
    if history:
        label, _, activity = history.partition("/")
        if label != "history":
            raise spec_error("ckan", "only /dataset/<id>/history/<activity id> may follow the id")
    elif parts.query:
        name, _, activity = parts.query.partition("=")
        if name != "activity_id":
            raise spec_error("ckan", "the only query parameter allowed is activity_id")
    if activity is not None and not CKAN_ID.fullmatch(activity):
        raise spec_error("ckan", f"{show(activity)} is not a CKAN activity id")
    return CkanSpec(url, dataset_id, activity)


_PARSERS: dict[str, Callable[[str], ParsedSpec]] = {
    "gh": parse_github,
    "gist": parse_gist,
    "gl": parse_gitlab,
    "zenodo": parse_zenodo,
    "figshare": parse_figshare,
    "dataverse": parse_dataverse,
    "hydroshare": parse_hydroshare,
    "ckan": parse_ckan,
}
