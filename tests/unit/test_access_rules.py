"""The pure rules of the local binder's guard (api/access_rules.py), one by one."""

from __future__ import annotations

import pytest

from skybinder.api import access_rules as rules

HOST = "127.0.0.1:8585"


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("token abc", "abc"),
        ("Token abc ", "abc"),
        ("Bearer abc", "abc"),
        ("bearer  abc", "abc"),
        ("Basic abc", ""),
        ("abc", ""),
        ("", ""),
    ],
)
def test_the_authorization_header(header: str, token: str) -> None:
    assert rules.token_from_header(header) == token


def test_the_header_wins_over_the_query_which_wins_over_the_cookie() -> None:
    assert rules.token_given("token h", "q", "c") == "h"
    assert rules.token_given("", "q", "c") == "q"
    assert rules.token_given("Basic x", "", "c") == "c"
    assert rules.token_given("", "", "") == ""


@pytest.mark.parametrize(
    ("given", "expected", "ok"),
    [("s3cret", "s3cret", True), ("s3cre", "s3cret", False), ("", "", False), ("x", "", False)],
)
def test_tokens_match_exactly_and_never_empty(given: str, expected: str, ok: bool) -> None:
    assert rules.token_matches(given, expected) is ok


@pytest.mark.parametrize(
    ("origin", "fetch_site", "allowed", "foreign"),
    [
        (None, None, (), False),  # a program (curl, skybinder launch): the token decides
        (None, "none", (), False),  # typed in the address bar
        (None, "same-origin", (), False),
        ("http://127.0.0.1:8585", "same-origin", (), False),
        ("HTTP://127.0.0.1:8585", None, (), False),
        ("http://127.0.0.1:8888", "same-site", (), True),  # another port: another origin
        ("http://localhost:8585", "cross-site", (), True),  # another name for this machine
        ("https://evil.example", "cross-site", (), True),
        ("null", None, (), True),  # sandboxed frames and file:// pages
        (None, "cross-site", (), True),  # an <img> or a link on another site
        (None, "same-site", (), True),
        ("https://book.example", "cross-site", ("https://book.example",), False),
        ("https://book.example", "cross-site", ("https://book.example/",), False),
        ("https://book.example:444", "cross-site", ("https://book.example",), True),
        ("https://evil.example", "cross-site", ("*",), False),
        ("null", None, ("*",), False),
        (None, "cross-site", ("https://book.example",), True),  # a listed site sends Origin
    ],
)
def test_requests_other_sites_make(
    origin: str | None, fetch_site: str | None, allowed: tuple[str, ...], foreign: bool
) -> None:
    assert rules.is_foreign_request(origin, fetch_site, HOST, allowed) is foreign


@pytest.mark.parametrize(
    ("fetch_site", "referer", "foreign"),
    [
        ("none", None, False),
        ("same-origin", "https://evil.example/", False),  # the header wins
        ("cross-site", None, True),
        ("same-site", None, True),
        (None, None, False),
        (None, "http://127.0.0.1:8585/", False),
        (None, "https://evil.example/x", True),
        (None, "http://127.0.0.1:9999/", True),
    ],
)
def test_navigations_from_other_sites(
    fetch_site: str | None, referer: str | None, foreign: bool
) -> None:
    assert rules.is_foreign_navigation(fetch_site, referer, HOST) is foreign


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8585", True),
        ("127.0.0.1", True),
        ("[::1]:8585", True),
        ("192.0.2.10:8585", True),  # any address: a page served from it is this binder's
        ("localhost:8585", True),
        ("LOCALHOST.:8585", True),
        ("app.localhost:8585", True),
        ("lab-pc:8585", True),  # the machine's name (given)
        ("binder.lab.example", True),  # a name the operator listed
        ("evil.example:8585", False),  # DNS rebinding
        ("127.0.0.1.evil.example", False),
        ("0x7f.1", False),  # a browser sends addresses in dotted form only
        ("", False),
    ],
)
def test_the_names_the_binder_answers_to(host: str, allowed: bool) -> None:
    assert rules.host_allowed(host, {"lab-pc", "binder.lab.example"}) is allowed


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("a.example:80", "a.example"),
        ("[::1]:8585", "::1"),
        ("::1", "::1"),
        ("A.Example", "a.example"),
    ],
)
def test_host_names_lose_their_port(host: str, name: str) -> None:
    assert rules.host_name(host) == name


@pytest.mark.parametrize(
    ("url", "netloc"),
    [
        ("http://Lab-PC:8585/x?y=1", "lab-pc:8585"),
        ("https://book.example", "book.example"),
        ("null", ""),
        ("http://[::1", ""),  # unparsable: no host, never ours
    ],
)
def test_the_host_and_port_of_a_url(url: str, netloc: str) -> None:
    assert rules.netloc(url) == netloc


@pytest.mark.parametrize(
    ("origin", "listed"),
    [
        ("https://book.example/", "https://book.example"),
        ("https://jupyter.box", "HTTPS://JUPYTER.BOX/"),
        ("HTTPS://JUPYTER.BOX/", "https://jupyter.box"),
    ],
)
def test_listed_origins_match_whatever_the_case_and_a_trailing_slash(
    origin: str, listed: str
) -> None:
    assert rules.origin_allowed(origin, [listed])
    assert not rules.origin_allowed(origin, ["https://other.example"])


@pytest.mark.parametrize(
    ("origin", "host", "foreign"),
    [
        ("http://lab-pc:8585", "lab-pc:8585", False),  # the binder's own pages, by name
        ("http://Lab-PC:8585", "LAB-PC:8585", False),
        ("http://lab-pc:8585", "lab-pc:8586", True),
        # Without a Host header no Origin is ours: not `null`, not one without a host.
        ("null", "", True),
        ("https:", "", True),
        ("http://[::1", "", True),
    ],
)
def test_an_origin_is_ours_only_when_it_names_this_host_and_port(
    origin: str, host: str, foreign: bool
) -> None:
    assert rules.is_foreign_request(origin, "same-origin", host, ()) is foreign


@pytest.mark.parametrize(
    ("referer", "host", "foreign"),
    [
        ("http://lab-pc:8585/v2/gh/u/r/HEAD", "lab-pc:8585", False),
        ("http://Lab-PC:8585/", "LAB-PC:8585", False),
        ("http://lab-pc:8586/", "lab-pc:8585", True),
        ("about:blank", "", True),  # without a Host header no page is ours
    ],
)
def test_a_referer_is_ours_only_when_it_names_this_host_and_port(
    referer: str, host: str, foreign: bool
) -> None:
    assert rules.is_foreign_navigation(None, referer, host) is foreign


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("[::1", "::1"),  # no closing bracket: the rest is the address
        ("[::1]:8585]", "::1"),  # the name ends at the first bracket
        (" Lab-PC:8585 ", "lab-pc"),
    ],
)
def test_host_names_of_odd_host_headers(host: str, name: str) -> None:
    assert rules.host_name(host) == name


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("lab-pc.:8585", True),  # the fully-qualified form of a given name
        ("binder.lab.example", True),  # listed with a trailing dot
        ("BINDER.LAB.EXAMPLE.", True),
        ("lab.example", False),
        # Numeric forms the C resolver reads as 127.0.0.1, but that a browser sends only for
        # a name it resolved: refused, as any other name.
        ("127.1:8585", False),
        ("2130706433:8585", False),
    ],
)
def test_names_with_trailing_dots_and_numeric_forms(host: str, allowed: bool) -> None:
    assert rules.host_allowed(host, {"lab-pc", "binder.lab.example."}) is allowed
