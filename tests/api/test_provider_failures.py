"""Bad specs over HTTP: every one ends in a single `failed` event with a 4xx status, never a
500 or a cut stream. The real providers resolve in cloud mode (no local addresses) against
recorded answers; the legacy /repo redirect is checked here too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from skybinder.adapters.local.http import SystemClock
from skybinder.adapters.providers import ProviderResolver
from skybinder.adapters.providers.cache import CachingResolver
from skybinder.api.app import create_app
from skybinder.domain.naming import image_name
from skybinder.domain.repo_policy import ProviderSettings, RepoPolicy
from skybinder.service.binder import Binder, ServiceConfig
from tests.fake_ports import FakeBuilder, FakeProber, FakeRegistry, FakeRouter, FakeRunner
from tests.fakes import FakeSessionStore
from tests.provider_fakes import NOW, FakeDns, Web, make_resolver

SHA = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
DNS = {
    "metadata.example.org": ["169.254.169.254"],
    "rebind.example.org": ["93.184.215.14", "127.0.0.1"],
    "ckan.internal.example": ["10.1.2.3"],
    "v6.example.org": ["fd00:ec2::254"],
}


def recorded_web() -> Web:
    web = Web()
    web.json("https://api.github.com/repos/binder-examples/requirements/commits/HEAD", {"sha": SHA})
    rate_limited = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW + 600))}
    web.json("https://api.github.com/repos/busy/repo/commits/HEAD", {}, 403, **rate_limited)
    web.redirect(
        "https://example.org/moved.git/info/refs",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    )
    web.redirect(f"https://doi.org/10.1234/{'EVIL'}", "http://0xa9fea9fe/latest/")
    web.redirect("https://doi.org/10.5281/zenodo.3242074", "https://zenodo.org/records/3242074")
    web.page("https://zenodo.org/records/3242074")
    return web


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def resolver() -> ProviderResolver:
    settings = ProviderSettings(policy={"gh": RepoPolicy(banned_specs=["^ines/spacy-binder"])})
    return make_resolver(recorded_web(), dns=FakeDns(DNS), settings=settings)


@pytest.fixture
def client(resolver: ProviderResolver, registry: FakeRegistry) -> Iterator[TestClient]:
    binder = Binder(
        store=FakeSessionStore(),
        registry=registry,
        builder=FakeBuilder(registry),
        runner=FakeRunner(),
        router=FakeRouter(),
        prober=FakeProber(),
        resolver=CachingResolver(resolver),
        clock=SystemClock(),
        config=ServiceConfig(poll_interval=0.01),
    )
    with TestClient(create_app(binder), headers={"Accept": "text/event-stream"}) as test_client:
        yield test_client


def git(url: str, ref: str = "HEAD") -> str:
    return f"{quote(url, safe='')}/{ref}"


BAD_INPUT: dict[str, tuple[str, str, int]] = {
    # missing parts
    "gh without ref": ("gh", "binder-examples/requirements", 400),
    "gh user only": ("gh", "binder-examples", 400),
    "gl without ref": ("gl", "group%2Fproject", 400),
    "git without ref": ("git", quote("https://example.org/r.git", safe=""), 400),
    "zenodo prefix only": ("zenodo", "10.5281", 400),
    # extra slashes
    "gh empty part": ("gh", "binder-examples//requirements/HEAD", 400),
    "gist extra parts": ("gist", "parente/a1b2c3/HEAD/more", 400),
    "git unescaped URL": ("git", "https://example.org/r.git/HEAD", 400),
    "gl unescaped namespace": ("gl", "group/project/main", 400),
    # ..
    "gh dot-dot user": ("gh", "%2e%2e/%2E%2E/HEAD", 400),
    "gh dot-dot ref": ("gh", "u/r/a%2F..%2F..%2Fb", 400),
    "git dot-dot path": ("git", git("https://example.org/a/../../r.git"), 400),
    "ckan dot-dot path": ("ckan", quote("https://demo.ckan.org/x/../dataset/d1", safe=""), 400),
    # percent-encoding tricks
    "encoded dot-dot ref": ("gh", "u/r/%2e%2e", 400),
    "invalid utf-8": ("gh", "u/r/%ff%fe", 400),
    "encoded slash in user": ("gh", "u%2Fx/r/HEAD", 400),
    "double-encoded URL": (
        "git",
        quote(quote("https://example.org/r.git", safe=""), safe="") + "/HEAD",
        400,
    ),
    "encoded NUL": ("gh", "u/r/ma%00in", 400),
    # unicode
    "unicode user": ("gh", quote("üser/repo/HEAD", safe="/"), 400),
    "bidi override": ("gh", "u/r/%E2%80%AEniam", 400),
    "zero-width space": ("gl", "group%2Fpro%E2%80%8Bject/main", 400),
    # overlong
    "ref over 255": ("gh", "u/r/" + "a" * 256, 400),
    "spec over 2048": ("git", git("https://example.org/" + "a" * 2100), 400),
    # shell metacharacters
    "semicolon ref": ("gh", "u/r/main;rm%20-rf%20~", 400),
    "backticks ref": ("gh", "u/r/%60id%60", 400),
    "dollar in git URL": ("git", git("https://example.org/$(id).git"), 400),
    "pipe in gitlab ref": ("gl", "g%2Fp/main%7Ccat", 400),
    # control characters
    "carriage return ref": ("gh", "u/r/ma%0Din", 400),
    "escape sequence": ("gh", "u/r/%1B%5B31m", 400),
    "tab in DOI": ("dataverse", "10.7910/DVN%09TJCLKP", 400),
    # DOIs of the wrong registrar
    "figshare DOI to zenodo": ("zenodo", "10.6084/m9.figshare.9782777", 400),
    "zenodo DOI to figshare": ("figshare", "10.5281/zenodo.3242074", 400),
    "zenodo DOI to dataverse": ("dataverse", "10.5281/zenodo.3242074", 400),
    # internal addresses, directly
    "loopback": ("git", git("http://127.0.0.1/r.git"), 400),
    "metadata endpoint": ("git", git("http://169.254.169.254/latest/meta-data/"), 400),
    "task metadata endpoint": ("git", git("http://169.254.170.2/v2/credentials"), 400),
    "IPv6 loopback": ("git", git("http://[::1]:8888/r.git"), 400),
    "IPv4-mapped IPv6": ("git", git("http://[::ffff:a9fe:a9fe]/x"), 400),
    "localhost": ("git", git("http://localhost:8585/r.git"), 400),
    "private ckan": ("ckan", quote("http://10.0.0.1/dataset/x", safe=""), 400),
    "ssh to private": ("git", git("git@10.0.0.7:org/repo.git", SHA), 400),
    "file URL": ("git", git("file:///etc"), 400),
    "local path": ("git", git("/srv/repos/r"), 400),
    # ... through DNS names
    "name of the metadata endpoint": ("git", git("https://metadata.example.org/r.git"), 400),
    "name with one internal address": ("git", git("https://rebind.example.org/r.git"), 400),
    "name of a unique-local IPv6": ("git", git("https://v6.example.org/r.git", SHA), 400),
    "git:// with a sha": ("git", git("git://metadata.example.org/r.git", SHA), 400),
    "ckan on a private name": (
        "ckan",
        quote("https://ckan.internal.example/dataset/x", safe=""),
        400,
    ),
    # ... through decimal, octal and hex forms
    "decimal": ("git", git("http://2130706433/r.git"), 400),
    "hex": ("git", git("http://0x7f000001/r.git"), 400),
    "octal": ("git", git("http://0177.0.0.1/r.git"), 400),
    "short form": ("git", git("http://127.1/r.git"), 400),
    "hex metadata": ("git", git("http://0xa9fea9fe/latest", SHA), 400),
    # ... through redirects
    "git server redirecting to metadata": ("git", git("https://example.org/moved.git"), 400),
    "DOI redirecting to metadata": ("dataverse", "10.1234/EVIL", 400),
    # and the other refusals users meet
    "unknown provider": ("svn", "u/r/HEAD", 404),
    "banned": ("gh", "ines/spacy-binder/HEAD", 403),
    "no such repository": ("gh", "binder-examples/nope/HEAD", 404),
    "rate limited": ("gh", "busy/repo/HEAD", 429),
    "unknown DOI": ("zenodo", "10.5281/zenodo.404", 404),
}


def events(client: TestClient, path: str) -> list[dict[str, object]]:
    with client.stream("GET", path) as response:
        assert response.status_code == 200  # BinderHub's errors are events, not statuses
        body = response.read().decode()
    assert body.endswith("\n\n"), body
    chunks = [chunk for chunk in body[:-2].split("\n\n") if chunk != ":keepalive"]
    assert all(chunk.startswith("data: ") and "\n" not in chunk for chunk in chunks), body
    return [json.loads(chunk[len("data: ") :]) for chunk in chunks]


@pytest.mark.parametrize(("provider", "spec", "status"), BAD_INPUT.values(), ids=BAD_INPUT)
def test_bad_input_ends_in_one_failed_event(
    client: TestClient, provider: str, spec: str, status: int
) -> None:
    got = events(client, f"/build/{provider}/{spec}")
    assert len(got) == 1, got
    [event] = got
    assert event["phase"] == "failed"
    assert event["status_code"] == status, event
    message = str(event["message"])
    assert message.endswith("\n") and len(message) < 1000
    assert "Traceback" not in message


def test_a_newline_in_the_spec_ends_in_a_failed_event(client: TestClient) -> None:
    [event] = events(client, "/build/gh/u/r/ma%0Ain")
    assert event["status_code"] == 400


def test_refusals_do_not_reveal_what_a_name_resolves_to(client: TestClient) -> None:
    [event] = events(client, "/build/git/" + git("https://rebind.example.org/r.git"))
    assert "rebind.example.org" in str(event["message"])
    assert "127.0.0.1" not in str(event["message"])


def test_banned_spec_message_is_binderhubs(client: TestClient) -> None:
    [event] = events(client, "/build/gh/ines/spacy-binder/HEAD")
    assert event["message"] == (
        "Sorry, ines/spacy-binder/HEAD has been temporarily disabled from launching. "
        "Please contact admins for more info!\n"
    )


def test_rate_limit_says_when_to_come_back(client: TestClient) -> None:
    [event] = events(client, "/build/gh/busy/repo/HEAD")
    assert event["message"] == (
        "GitHub rate limit exceeded. Try again in 10 minutes, or set a GitHub token for this "
        "binder.\n"
    )


def test_a_good_spec_still_builds(
    client: TestClient, resolver: ProviderResolver, registry: FakeRegistry
) -> None:
    repo = resolver.resolve("gh", "binder-examples/requirements/HEAD")
    registry.images.add(image_name(ServiceConfig().image_prefix, repo.slug, repo.ref))
    got = events(client, "/build/gh/binder-examples/requirements/HEAD?build_only=true")
    assert [event["phase"] for event in got] == ["built", "ready"]


def test_repoproviders_lists_all_nine(client: TestClient) -> None:
    ids = [entry["id"] for entry in client.get("/api/repoproviders").json()]
    assert ids == [
        "gh",
        "gist",
        "gl",
        "git",
        "zenodo",
        "figshare",
        "dataverse",
        "hydroshare",
        "ckan",
    ]


# --- /repo/<user>/<repo>[/<path>] ----------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/repo/binderhub-ci-repos/requirements", "/v2/gh/binderhub-ci-repos/requirements/master"),
        ("/repo/binderhub-ci-repos/requirements/", "/v2/gh/binderhub-ci-repos/requirements/master"),
        (
            "/repo/binderhub-ci-repos/requirements/notebooks/index.ipynb",
            "/v2/gh/binderhub-ci-repos/requirements/master?urlpath=%2Fnotebooks%2Findex.ipynb",
        ),
        ("/repo/u/r/a%20b.ipynb", "/v2/gh/u/r/master?urlpath=%2Fa+b.ipynb"),
        # Names are quoted: whatever they hold, the Location stays a path on this binder.
        (
            "/repo/u/r%3Fx=%2F%2Fevil.example/",
            "/v2/gh/u/r%3Fx%3D/master?urlpath=%2F%2Fevil.example%2F",
        ),
    ],
)
def test_legacy_repo_links_redirect_to_v2(client: TestClient, old: str, new: str) -> None:
    response = client.get(old, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == new


def test_legacy_redirect_lands_on_the_launch_page(client: TestClient) -> None:
    response = client.get("/repo/u/r", headers={"Accept": "text/html"})
    assert response.status_code == 200 and isinstance(response, httpx.Response)
    assert str(response.url).endswith("/v2/gh/u/r/master")
