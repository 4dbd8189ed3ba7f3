"""Following a DOI through doi.org to the landing page of the record it names."""

from __future__ import annotations

from urllib.parse import quote

from skybinder.adapters.providers.safe_http import Reply, SafeHttp
from skybinder.domain.errors import ProviderUnavailableError, ResolveError

DOI_RESOLVER = "https://doi.org/"
# Enough for doi.org -> the repository's DOI route -> the record (and a concept DOI's hop to
# the latest version); anything longer is a loop or a trap.
DOI_REDIRECTS = 6


def doi_url(doi: str) -> str:
    return DOI_RESOLVER + quote(doi, safe="/:;()")


def follow_doi(http: SafeHttp, doi: str) -> Reply:
    """The answer at the end of `doi`'s redirects; its `url` is the record's landing page.

    The landing page's body is not read, and its status is left to the caller (some sites
    answer robots with 403 although the URL is all we need). Raises ResolveError when doi.org
    does not know the DOI, ProviderUnavailableError when doi.org cannot answer.
    """
    reply = http.follow(doi_url(doi), what="doi.org")
    if reply.redirects:
        return reply
    if reply.status_code == 404:
        raise ResolveError(
            f"The DOI {doi} is not registered: doi.org does not know it. Check the DOI; "
            "a new record's DOI may take a few minutes to become known."
        )
    raise ProviderUnavailableError(
        f"doi.org answered HTTP {reply.status_code} for {doi} instead of pointing at the "
        "record. Try again in a few minutes."
    )
