"""UrlGuard's reading of a URL's host: names DNS cannot encode, hosts missing or with an empty
label, fully qualified names, ports, what it asks DNS, and what it logs of a refusal."""

from __future__ import annotations

import socket

import pytest

from skybinder.adapters.providers.guard import GIT_SCHEMES, UrlGuard
from skybinder.domain.errors import ResolveError, UnsafeUrlError
from tests.provider_fakes import PUBLIC_IP, FakeDns


def guard(dns: FakeDns | None = None, allow_local: bool = False) -> UrlGuard:
    return UrlGuard(allow_local=allow_local, getaddrinfo=dns or FakeDns())


def test_the_refused_address_stays_in_the_server_log(caplog: pytest.LogCaptureFixture) -> None:
    dns = FakeDns({"sneaky.example.org": ["10.0.0.5"]})
    with pytest.raises(UnsafeUrlError):
        guard(dns).check("https://sneaky.example.org/repo.git")
    assert caplog.messages == [
        "refused https://sneaky.example.org/repo.git: sneaky.example.org resolves to 10.0.0.5 "
        "(private)"
    ]


def test_dns_is_asked_for_stream_addresses_of_every_family_at_the_urls_port() -> None:
    asked: list[tuple[object, ...]] = []

    def getaddrinfo(*args: object) -> list[tuple[object, ...]]:
        asked.append(args)
        return FakeDns()(*args)

    UrlGuard(allow_local=False, getaddrinfo=getaddrinfo).check("https://example.org:8443/x")
    # AF_UNSPEC (0): an IPv6 answer is checked too; SOCK_STREAM: each address once.
    assert asked == [("example.org", 8443, 0, socket.SOCK_STREAM)]


def test_a_public_ip_literal_is_used_as_it_is_without_dns() -> None:
    dns = FakeDns()
    target = guard(dns).check("http://93.184.215.14/x")
    assert str(target.address) == "93.184.215.14" and dns.asked == []


def test_a_label_dns_cannot_encode_is_a_host_not_found_not_a_crash() -> None:
    # The real getaddrinfo: encoding a label longer than 63 characters fails (UnicodeError)
    # before any packet leaves the machine.
    host = "a" * 64 + ".example.org"
    with pytest.raises(ResolveError) as caught:
        UrlGuard(allow_local=False).check(f"https://{host}/x")
    assert caught.value.status_code == 404
    shown = "'" + "a" * 60 + "...'"  # long names are cut in messages
    assert caught.value.message == (
        f"Could not find the host {shown} (its DNS lookup failed). Check the address."
    )


def test_names_whose_every_answer_is_unusable_are_not_found() -> None:
    def garbage(host: str, port: int, *args: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("not-an-address", port))]

    with pytest.raises(ResolveError, match=r"^The host 'odd\.example\.org' has no usable address"):
        UrlGuard(allow_local=False, getaddrinfo=garbage).check("https://odd.example.org/")
    with pytest.raises(ResolveError, match="no usable address"):
        UrlGuard(allow_local=False, getaddrinfo=lambda *a: []).check("https://none.example.org/")


def test_one_unusable_answer_among_good_ones_refuses_the_name() -> None:
    def mixed(host: str, port: int, *args: object) -> list[tuple[object, ...]]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("garbage", port)),
        ]

    with pytest.raises(ResolveError, match="no usable address"):
        UrlGuard(allow_local=False, getaddrinfo=mixed).check("https://mixed.example.org/")


@pytest.mark.parametrize(
    "url",
    ["http:///x", "http://./x", "http://:80/x", "http://user@/x", "https://?q", "ssh:///r.git"],
)
def test_urls_without_a_host_are_bad_requests(url: str) -> None:
    dns = FakeDns()
    with pytest.raises(UnsafeUrlError) as caught:
        guard(dns).check(url, GIT_SCHEMES)
    assert caught.value.status_code == 400
    assert caught.value.message == f"Refused to fetch {url!r}: the URL names no host."
    assert dns.asked == []


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://a..b/x", "a..b"),
        ("http://.example.org/x", ".example.org"),
        ("http://example.org../x", "example.org."),
        ("http://../x", "."),
    ],
)
def test_hosts_with_an_empty_label_are_bad_requests_not_lookups(url: str, host: str) -> None:
    dns = FakeDns()
    for allow_local in (False, True):
        with pytest.raises(UnsafeUrlError) as caught:
            guard(dns, allow_local).check(url)
        assert caught.value.status_code == 400
        assert caught.value.message == (
            f"Refused to fetch {url!r}: {host!r} is not a valid host name "
            "(a part between its dots is empty)."
        )
    assert dns.asked == []


def test_a_fully_qualified_name_is_the_same_host() -> None:
    dns = FakeDns({"api.example.org": ["93.184.215.14"], "meta.example.org": ["169.254.169.254"]})
    target = guard(dns).check("https://api.example.org./x")
    assert (target.host, str(target.address)) == ("api.example.org", "93.184.215.14")
    assert dns.asked == ["api.example.org"]
    with pytest.raises(UnsafeUrlError, match="local or private network"):
        guard(dns).check("https://meta.example.org./latest/meta-data/")
    for internal in ("http://localhost./", "http://127.0.0.1./", "http://[::1]./"):
        with pytest.raises(UnsafeUrlError, match="local or private network"):
            guard(dns).check(internal)


def test_default_ports_follow_the_scheme_and_an_explicit_port_wins() -> None:
    dns = FakeDns()
    ports = {
        url: guard(dns).check(url, GIT_SCHEMES).port
        for url in ("http://example.org/", "https://example.org/", "git://example.org/",
                    "ssh://example.org/", "https://example.org:8443/")
    }  # fmt: skip
    assert list(ports.values()) == [80, 443, 9418, 22, 8443]


def test_refusals_name_the_url_and_the_allowed_schemes() -> None:
    with pytest.raises(UnsafeUrlError) as caught:
        guard().check("ftp://example.org/x", GIT_SCHEMES)
    assert caught.value.message == (
        "Refused to fetch 'ftp://example.org/x': only http, https, git, ssh URLs are allowed here."
    )
    with pytest.raises(UnsafeUrlError) as bad:
        guard().check("http://example.org:99999/")
    assert bad.value.message == "'http://example.org:99999/' is not a valid URL."
    with pytest.raises(UnsafeUrlError) as private:
        guard().check("http://10.0.0.1/x")
    assert private.value.message == (
        "Refused to fetch 'http://10.0.0.1/x': the host '10.0.0.1' is on a local or private "
        "network. This binder only contacts hosts on the public internet."
    )


def test_an_ipv6_only_name_connects_over_ipv6() -> None:
    dns = FakeDns({"v6.example.org": ["2606:4700:4700::1111"]})
    assert str(guard(dns).check("https://v6.example.org/").address) == "2606:4700:4700::1111"
