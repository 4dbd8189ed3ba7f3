"""The rules every spec follows: the forms per provider, ref names, URLs and error messages."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from urllib.parse import SplitResult, unquote, urlsplit

from skybinder.domain.addresses import internal_host_reason
from skybinder.domain.errors import SpecError, UnknownProviderError

# The form of each prefix and an example, quoted in every SpecError. The order is BinderHub's.
FORMS: dict[str, tuple[str, str]] = {
    "gh": ("gh/<user>/<repo>/<ref>", "gh/binder-examples/requirements/HEAD"),
    "gist": ("gist/<user>/<gist-id>[/<revision>]", "gist/parente/5b1f6a8e4a2c4d3e9f0a1b2c3d4e5f60"),
    "gl": ("gl/<url-escaped namespace>/<ref>", "gl/gitlab-org%2Fgitlab-docs/HEAD"),
    "git": (
        "git/<url-escaped clone URL>/<ref>",
        "git/https%3A%2F%2Fgithub.com%2Fbinder-examples%2Frequirements/HEAD",
    ),
    "zenodo": ("zenodo/10.5281/zenodo.<record>", "zenodo/10.5281/zenodo.3242074"),
    "figshare": (
        "figshare/10.6084/m9.figshare.<article>[.v<version>]",
        "figshare/10.6084/m9.figshare.9782777.v1",
    ),
    "dataverse": ("dataverse/<DOI>", "dataverse/10.7910/DVN/TJCLKP"),
    "hydroshare": (
        "hydroshare/<resource id or url-escaped resource URL>",
        "hydroshare/b8f6eae9d89241cf8b5904033460af61",
    ),
    "ckan": (
        "ckan/<url-escaped dataset URL>",
        "ckan/https%3A%2F%2Fdemo.ckan.org%2Fdataset%2Fsample-dataset-1",
    ),
}
PROVIDERS: tuple[str, ...] = tuple(FORMS)
MAX_SPEC_LENGTH = 2048  # far above any real spec; bounds the work done on hostile input
MAX_REF_LENGTH = 255
SHA1 = re.compile(r"[0-9a-fA-F]{40}")
# Shell metacharacters: no real user, repo, ref or clone URL needs them, and refusing them keeps
# every tool downstream (logs, HTML, scripts run by builders) away from injection surprises.
SHELL_META = frozenset(";|&$`<>\"'\\")
REF_FORBIDDEN = frozenset("~^:?*[\\ ") | SHELL_META
SCP_LIKE = re.compile(r"([A-Za-z0-9_.-]+)@([A-Za-z0-9.-]+):(?!//)(.+)")
GIT_SCHEMES = ("http", "https", "git", "ssh")


def spec_error(provider: str, problem: str) -> SpecError:
    form, example = FORMS[provider]
    return SpecError(f"Invalid {provider} spec: {problem}. Expected {form}, e.g. {example}")


def show(value: str, limit: int = 60) -> str:
    """`value` quoted for an error message: control characters escaped, long values cut."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def is_sha1(ref: str) -> bool:
    return SHA1.fullmatch(ref) is not None


def check_provider(provider: str) -> None:
    if provider not in FORMS:
        raise UnknownProviderError(
            f"No provider found for prefix {show(provider, 20)}. "
            f"Known providers: {', '.join(PROVIDERS)}."
        )


def prepare(provider: str, spec: str) -> str:
    """`spec` without its trailing slash, when it is not empty and not absurdly long."""
    spec = spec.rstrip("/")  # BinderHub strips a trailing slash
    if not spec:
        raise spec_error(provider, "the spec is empty")
    if len(spec) > MAX_SPEC_LENGTH:
        raise spec_error(provider, f"the spec is longer than {MAX_SPEC_LENGTH} characters")
    return spec


def decode(provider: str, value: str, what: str) -> str:
    """Percent-decode one part of a spec and refuse control characters and whitespace."""
    try:
        text = unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise spec_error(provider, f"{what} is not valid UTF-8 once decoded") from None
    # Categories C* (control, format such as bidi overrides, ...) and Z* (all whitespace).
    if any(unicodedata.category(char)[0] in "CZ" for char in text):
        raise spec_error(provider, f"{what} {show(text)} contains whitespace or control characters")
    return text


def ref_problem(ref: str) -> str | None:
    """What makes `ref` a name git refuses (git check-ref-format, one level allowed), or None."""
    if len(ref) > MAX_REF_LENGTH:
        return f"is longer than {MAX_REF_LENGTH} characters"
    if not REF_FORBIDDEN.isdisjoint(ref):
        return "contains one of ~^:?*[\\;|&$`<>\"' "
    if ref.startswith("-"):
        return "starts with '-'"
    if ".." in ref or "@{" in ref or ref == "@":
        return "contains '..' or '@{'"
    if "//" in ref or ref.startswith("/") or ref.endswith("/"):
        return "has an empty part"
    if ref.endswith("."):
        return "ends with '.'"
    if any(part.startswith(".") or part.endswith(".lock") for part in ref.split("/")):
        return "has a part starting with '.' or ending with '.lock'"
    return None


def check_ref(provider: str, ref: str) -> str:
    """`ref` when it is a name git accepts (see `ref_problem`)."""
    if not ref:
        raise spec_error(provider, "the ref is missing")
    problem = ref_problem(ref)
    if problem is not None:
        raise spec_error(provider, f"the ref {show(ref)} {problem}")
    return ref


def split_url(
    provider: str, url: str, schemes: tuple[str, ...], *, allow_internal: bool = False
) -> SplitResult:
    """`url` split, when its scheme is one of `schemes`, it names a host and has no `..` part."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        raise spec_error(provider, f"{show(url)} is not a valid URL") from None
    if parts.scheme.lower() not in schemes:
        scheme = show(parts.scheme) if parts.scheme else "none"
        raise spec_error(provider, f"URL scheme {scheme} is not one of {', '.join(schemes)}")
    host = parts.hostname or ""
    if not host or host.startswith("-"):
        raise spec_error(provider, f"the URL {show(url)} has no valid host")
    if not allow_internal and is_internal_host(host):
        raise spec_error(provider, "URLs of localhost or private networks are not allowed here")
    # Decoded, as a server may decode it: "%2e%2e" is "..", and a plain ".." stays "..".
    if {".", ".."} & set(unquote(parts.path).split("/")):
        raise spec_error(provider, "'.' and '..' are not allowed in URL paths")
    return parts


def is_internal_host(host: str) -> bool:
    """True for localhost and IP literals of loopback, private, link-local or reserved ranges.

    Numeric forms such as "2130706433" or "127.1" are read the way the C resolver reads them,
    so they cannot smuggle 127.0.0.1 past this check. Names are checked again, with DNS, when
    a request is made (adapters/providers/guard.py), against the same rules.
    """
    return internal_host_reason(host) is not None


def git_url(url: str, *, allow_local: bool) -> str:
    """The clone URL, normalised: scp-like `user@host:path` -> ssh://, local paths -> file://."""
    if not SHELL_META.isdisjoint(url):
        raise spec_error("git", f"the URL {show(url)} contains a shell metacharacter")
    scp = SCP_LIKE.fullmatch(url)
    if scp:
        user, host, path = scp.groups()
        url = f"ssh://{user}@{host}/{path.lstrip('/')}"
    if url.startswith("/") or url.lower().startswith("file:"):
        if not allow_local:
            raise spec_error("git", "file:// URLs and local paths work only in local mode")
        return local_url(url)
    parts = split_url("git", url, GIT_SCHEMES, allow_internal=allow_local)
    if parts.scheme in ("http", "https") and parts.password is not None:
        raise spec_error("git", "credentials in the URL are not supported")
    return url


def local_url(url: str) -> str:
    """A local path or file:// URL as a normalised file:// URL."""
    path = url
    if not url.startswith("/"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise spec_error("git", "a file:// URL must be file:///<absolute path>")
        path = unquote(parts.path)
    if not path.startswith("/") or ".." in path.split("/"):
        raise spec_error("git", "a local repository needs an absolute path without '..'")
    return PurePosixPath(path).as_uri()
