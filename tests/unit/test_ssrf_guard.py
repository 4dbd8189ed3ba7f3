"""The SSRF guard: forbidden addresses, IP literal forms, DNS at request time, redirect hops."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from skybinder.adapters.providers.guard import GIT_SCHEMES, Target, UrlGuard
from skybinder.adapters.providers.safe_http import SafeHttp
from skybinder.domain.addresses import (
    forbidden_reason,
    internal_host_reason,
    ip_literal,
    is_local_name,
)
from skybinder.domain.errors import ProviderUnavailableError, ResolveError, UnsafeUrlError
from skybinder.domain.spec_rules import is_internal_host
from tests.provider_fakes import PUBLIC_IP, FakeDns, Web, host_of

FORBIDDEN = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",  # EC2 instance metadata
    "169.254.170.2": "link-local",  # ECS task metadata and credentials
    "100.64.0.1": "non-public",  # carrier-grade NAT, also used inside cloud networks
    "0.0.0.0": "unspecified",
    "224.0.0.1": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.1": "private",  # documentation
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fc00::1": "private",
    "fd00:ec2::254": "private",  # EC2 instance metadata over IPv6
    "ff02::1": "multicast",
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "::ffff:169.254.169.254": "link-local",
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 of 169.254.169.254
    "2002:a9fe:a9fe::1": "link-local",  # 6to4 of 169.254.169.254
    "2001:db8::1": "private",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "private",  # Teredo of client 192.0.2.45
}
PUBLIC = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("address", "reason"), FORBIDDEN.items())
def test_addresses_that_are_not_public_are_forbidden(address: str, reason: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # decimal
        "0x7f000001",  # hex
        "0X7F.0.0.1",
        "0177.0.0.1",  # octal
        "017700000001",
        "127.1",  # short forms
        "127.0.1",
        "[::1]",
        "[::ffff:7f00:1]",
        "127.0.0.1.",
    ],
)
def test_numeric_forms_of_loopback_are_read_as_the_resolver_reads_them(host: str) -> None:
    address = ip_literal(host)
    assert address is not None
    assert forbidden_reason(address) == "loopback"
    assert is_internal_host(host)


@pytest.mark.parametrize(
    ("host", "expected"),
    [("0xa9fea9fe", "169.254.169.254"), ("2852039166", "169.254.169.254"), ("10.1", "10.0.0.1")],
)
def test_numeric_forms_of_other_internal_addresses(host: str, expected: str) -> None:
    assert str(ip_literal(host)) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [("fe80::1%eth0", "fe80::1"), ("[fe80::1%25en0]", "fe80::1"), ("fe80::1%a%b", "fe80::1")],
)
def test_an_ipv6_zone_id_is_dropped(host: str, expected: str) -> None:
    assert str(ip_literal(host)) == expected


@pytest.mark.parametrize(
    "host",
    ["example.org", "1e100.net", "dead.beef", "0xdeadbeef.com", "X10.0.0.1", "10.0.0.1X",
     "[10.0.0.1]X", "127.1 x", "a.b"],
)  # fmt: skip
def test_names_are_not_ip_literals(host: str) -> None:
    assert ip_literal(host) is None
    assert not is_internal_host(host)


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "app.localhost", "ip6-localhost"])
def test_local_names_are_internal_whatever_dns_says(host: str) -> None:
    assert is_internal_host(host)
    assert internal_host_reason(host) == "loopback"


@pytest.mark.parametrize("host", ["localhostX", "mylocalhost", "localhost.example.org"])
def test_names_that_only_look_local_are_names(host: str) -> None:
    assert not is_local_name(host) and internal_host_reason(host) is None


# --- UrlGuard ------------------------------------------------------------------------------


def guard(dns: FakeDns | None = None, allow_local: bool = False) -> UrlGuard:
    return UrlGuard(allow_local=allow_local, getaddrinfo=dns or FakeDns())


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://[::1]:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",
        "http://localhost:8888/api",
        "https://[fd00:ec2::254]/",
    ],
)
def test_guard_refuses_internal_literals_without_asking_dns(url: str) -> None:
    dns = FakeDns()
    with pytest.raises(UnsafeUrlError) as caught:
        guard(dns).check(url)
    assert caught.value.status_code == 400
    assert "local or private network" in caught.value.message
    assert dns.asked == []


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.5"], ["169.254.169.254"], [PUBLIC_IP, "192.168.0.1"], ["::1"], ["fe80::1"]],
)
def test_guard_refuses_names_when_any_address_is_internal(addresses: list[str]) -> None:
    dns = FakeDns({"sneaky.example.org": addresses})
    with pytest.raises(UnsafeUrlError) as caught:
        guard(dns).check("https://sneaky.example.org/repo.git")
    # The message names the host but not its addresses: no map of the operator's network.
    assert "sneaky.example.org" in caught.value.message
    assert all(address not in caught.value.message for address in addresses)


def test_guard_allows_public_names_and_prefers_ipv4() -> None:
    dns = FakeDns({"both.example.org": ["2606:4700:4700::1111", "93.184.215.14"]})
    target = guard(dns).check("https://both.example.org:8443/x")
    assert (target.host, target.port, str(target.address)) == (
        "both.example.org",
        8443,
        "93.184.215.14",
    )


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://example.org/", "//example.org"]
)
def test_guard_refuses_other_schemes(url: str) -> None:
    with pytest.raises(UnsafeUrlError, match="only http, https URLs are allowed"):
        guard().check(url)


def test_guard_checks_git_and_ssh_hosts_too() -> None:
    dns = FakeDns({"git.internal": ["10.0.0.7"]})
    assert guard(dns).check("git://example.org/r.git", GIT_SCHEMES).port == 9418
    assert guard(dns).check("ssh://git@example.org/r.git", GIT_SCHEMES).port == 22
    with pytest.raises(UnsafeUrlError):
        guard(dns).check("ssh://git@git.internal/r.git", GIT_SCHEMES)


def test_guard_reports_names_that_do_not_resolve() -> None:
    dns = FakeDns()
    dns.missing.add("nope.example.org")
    with pytest.raises(ResolveError, match=r"Could not find the host 'nope\.example\.org'"):
        guard(dns).check("https://nope.example.org/")


def test_local_mode_allows_this_machine_but_not_other_schemes() -> None:
    dns = FakeDns()
    target = guard(dns, allow_local=True).check("http://127.0.0.1:8585/x")
    assert target == Target("http://127.0.0.1:8585/x", "http", "127.0.0.1", 8585, None)
    assert dns.asked == []
    with pytest.raises(UnsafeUrlError):
        guard(dns, allow_local=True).check("file:///etc/passwd")


# --- SafeHttp ------------------------------------------------------------------------------


def safe_http(web: Web, dns: FakeDns | None = None, allow_local: bool = False) -> SafeHttp:
    return SafeHttp(web.client(), guard(dns, allow_local))


def test_requests_go_to_the_checked_address_with_the_hosts_name() -> None:
    web = Web()
    web.json("https://api.example.org/v1/x", {"ok": True})
    reply = safe_http(web).get("https://api.example.org/v1/x", what="the API")
    assert reply.json() == {"ok": True} and reply.url == "https://api.example.org/v1/x"
    [request] = web.requests
    assert request.url.host == PUBLIC_IP  # what DNS said when the guard asked
    assert request.headers["host"] == "api.example.org"
    assert request.extensions["sni_hostname"] == "api.example.org"  # TLS checks the name
    assert request.headers["connection"] == "close"


def test_local_mode_sends_requests_as_they_are() -> None:
    web = Web()
    web.json("http://localhost:9000/x", {})
    safe_http(web, allow_local=True).get("http://localhost:9000/x", what="it")
    assert web.requests[0].url.host == "localhost"


def test_every_redirect_hop_is_checked() -> None:
    dns = FakeDns({"inside.example.org": ["10.9.8.7"]})
    web = Web()
    web.redirect("https://a.example.org/start", "https://b.example.org/next")
    web.redirect("https://b.example.org/next", "http://inside.example.org/admin")
    web.json("https://inside.example.org/admin", {"secret": 1})
    with pytest.raises(UnsafeUrlError) as caught:
        safe_http(web, dns).get("https://a.example.org/start", what="it")
    assert "inside.example.org" in caught.value.message
    assert web.hosts() == ["a.example.org", "b.example.org"]  # never asked the inside host


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",
        "file:///etc/passwd",
        "http://localhost/",
    ],
)
def test_redirects_to_internal_addresses_are_refused(location: str) -> None:
    web = Web()
    web.redirect("https://a.example.org/x", location, status=301)
    with pytest.raises(UnsafeUrlError):
        safe_http(web).get("https://a.example.org/x", what="it")
    assert len(web.requests) == 1


def test_relative_redirects_are_followed_and_recorded() -> None:
    web = Web()
    web.redirect("https://a.example.org/x", "/y?z=1", status=307)
    web.json("https://a.example.org/y", {"here": True})
    reply = safe_http(web).get("https://a.example.org/x", what="it")
    assert reply.url == "https://a.example.org/y?z=1"
    assert reply.redirects == ["https://a.example.org/x"]


def test_redirect_chains_are_bounded() -> None:
    web = Web()
    web.redirect("https://a.example.org/loop", "https://a.example.org/loop")
    with pytest.raises(ResolveError, match="redirects more than 5 times"):
        safe_http(web).get("https://a.example.org/loop", what="it")
    assert len(web.requests) == 6


def test_answers_are_bounded() -> None:
    web = Web()
    web.add("https://a.example.org/big", httpx.Response(200, content=b"x" * 2048))
    with pytest.raises(ProviderUnavailableError, match="larger than"):
        safe_http(web).get("https://a.example.org/big", what="it", max_bytes=1024)


def test_network_errors_say_who_could_not_be_reached() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    web = Web()
    web.add("https://a.example.org/x", refuse)
    with pytest.raises(ProviderUnavailableError, match=r"Could not reach Example \(ConnectTimeout"):
        safe_http(web).get("https://a.example.org/x", what="Example")


def test_host_of_reads_the_host_header() -> None:
    request = httpx.Request("GET", "https://1.2.3.4/x", headers={"Host": "example.org"})
    assert host_of(request) == "example.org"
