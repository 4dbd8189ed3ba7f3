"""Build tokens (issue, expiry, audience, origin) and resume secrets (given first, checked)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import jwt
import pytest
from starlette.requests import Request

from skybinder.api.tokens import BuildTokenError, BuildTokens, token_origin
from skybinder.domain.model import Progress, Session, SessionState
from skybinder.service.launch import record_launch
from skybinder.service.resume import (
    launch_stream,
    may_resume,
    new_resume_secret,
    resume_digest,
    with_resume,
)
from tests.unit.conftest import SHA, World

S = SessionState


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def test_a_token_is_valid_for_its_spec_and_origin_until_it_expires() -> None:
    clock = Clock()
    tokens = BuildTokens("s" * 32, lifetime=300, now=clock)
    token = tokens.issue("gh/u/r/HEAD", "binder.example", client="192.0.2.1")
    token_id = tokens.check(token, "gh/u/r/HEAD", "binder.example", client="192.0.2.1")
    assert token_id and len(token_id) > 16
    assert tokens.check(token, "gh/u/r/HEAD", "binder.example", client="192.0.2.2") is None
    assert tokens.issue("gh/u/r/HEAD", "binder.example") != tokens.issue(
        "gh/u/r/HEAD", "binder.example"
    )  # each token has an id of its own
    clock.t += 299
    tokens.verify(token, "gh/u/r/HEAD", "binder.example")
    clock.t += 1
    with pytest.raises(BuildTokenError, match="expired") as caught:
        tokens.verify(token, "gh/u/r/HEAD", "binder.example")
    assert caught.value.status_code == 403


@pytest.mark.parametrize(
    ("spec", "origin", "why"),
    [
        ("gh/u/other/HEAD", "binder.example", "another repository"),
        ("gh/u/r/main", "binder.example", "another repository"),
        ("gh/u/r/HEAD", "evil.example", "another site"),
    ],
)
def test_a_token_is_bound_to_one_spec_and_one_origin(spec: str, origin: str, why: str) -> None:
    tokens = BuildTokens("s" * 32)
    token = tokens.issue("gh/u/r/HEAD", "binder.example")
    with pytest.raises(BuildTokenError, match=why):
        tokens.verify(token, spec, origin)


def test_tokens_of_another_secret_or_unsigned_are_refused() -> None:
    ours = BuildTokens("s" * 32)
    theirs = BuildTokens("t" * 32)
    claims = {"aud": "gh/u/r/HEAD", "origin": "o", "exp": 2_000_000_000}
    for token in (theirs.issue("gh/u/r/HEAD", "o"), jwt.encode(claims, None, algorithm="none")):
        with pytest.raises(BuildTokenError):
            ours.verify(token, "gh/u/r/HEAD", "o")


def test_no_token_is_not_an_error_but_not_valid_either() -> None:
    assert BuildTokens().check("", "gh/u/r/HEAD", "o") is None


def test_without_a_configured_secret_each_instance_has_its_own() -> None:
    token = BuildTokens().issue("gh/u/r/HEAD", "o")
    with pytest.raises(BuildTokenError):
        BuildTokens().verify(token, "gh/u/r/HEAD", "o")


def test_a_token_issued_without_a_client_address_is_for_requests_without_one() -> None:
    tokens = BuildTokens("s" * 32)
    token = tokens.issue("gh/u/r/HEAD", "binder.example")
    assert tokens.check(token, "gh/u/r/HEAD", "binder.example")
    assert tokens.check(token, "gh/u/r/HEAD", "binder.example", client="192.0.2.1") is None


def test_validity_is_judged_by_the_binders_clock_not_the_machines() -> None:
    clock = Clock()
    clock.t = 1_000_000_000.0  # 2001: every token of this clock expired long ago by real time
    tokens = BuildTokens("s" * 32, lifetime=300, now=clock)
    token = tokens.issue("gh/u/r/HEAD", "o", client="c")
    assert tokens.check(token, "gh/u/r/HEAD", "o", client="c")
    clock.t += 300
    with pytest.raises(BuildTokenError, match="expired"):
        tokens.check(token, "gh/u/r/HEAD", "o", client="c")


@pytest.mark.parametrize("claim", ["exp", "aud", "origin"])
def test_a_token_lacking_a_claim_is_refused_even_with_our_signature(claim: str) -> None:
    claims = {"exp": 2_000_000_000, "aud": "gh/u/r/HEAD", "origin": "o", "client": "", "jti": "j"}
    del claims[claim]
    token = jwt.encode(claims, "s" * 32, algorithm="HS256")
    with pytest.raises(BuildTokenError) as caught:
        BuildTokens("s" * 32).check(token, "gh/u/r/HEAD", "o")
    assert str(caught.value) == (
        "Invalid build token. Reload the launch page, or leave build_token out."
    )


@pytest.mark.parametrize("claim", ["client", "jti"])
def test_a_token_without_its_client_or_id_exempts_no_request(claim: str) -> None:
    # Valid (signed, unexpired, this spec and site), so not refused, but it names no address
    # (not even "", the one of a request whose address is unknown) or has no id to spend.
    claims = {"exp": 2_000_000_000, "aud": "gh/u/r/HEAD", "origin": "o", "client": "", "jti": "j"}
    assert BuildTokens("s" * 32).check(jwt.encode(claims, "s" * 32), "gh/u/r/HEAD", "o") == "j"
    del claims[claim]
    token = jwt.encode(claims, "s" * 32, algorithm="HS256")
    assert BuildTokens("s" * 32).check(token, "gh/u/r/HEAD", "o") is None


def test_each_refusal_says_what_to_do() -> None:
    clock = Clock()
    tokens = BuildTokens("s" * 32, lifetime=300, now=clock)
    token = tokens.issue("gh/u/r/HEAD", "binder.example")
    answers = {
        "Invalid build token: it was issued for another repository. Open this repository's "
        "own launch link.": (token, "gh/u/other/HEAD", "binder.example"),
        "Invalid build token: it was issued for another site. Open the launch link on this "
        "site to start the launch.": (token, "gh/u/r/HEAD", "evil.example"),
        "Invalid build token. Reload the launch page, or leave build_token out.": (
            token[:-2],
            "gh/u/r/HEAD",
            "binder.example",
        ),
    }
    for message, (given, spec, origin) in answers.items():
        with pytest.raises(BuildTokenError) as caught:
            tokens.check(given, spec, origin)
        assert str(caught.value) == message
    clock.t += 300
    with pytest.raises(BuildTokenError) as caught:
        tokens.check(token, "gh/u/r/HEAD", "binder.example")
    assert str(caught.value) == (
        "Invalid build token: it has expired. Reload the launch page to get a new one."
    )


def test_a_random_secret_is_announced(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="skybinder.api.tokens"):
        BuildTokens("s" * 32)
        assert caplog.messages == []
        BuildTokens()
    assert caplog.messages == ["no build token secret configured: using a random one for this run"]


@pytest.mark.parametrize(
    ("headers", "origin"),
    [
        ({"host": "binder.example:8585"}, "binder.example:8585"),
        ({"host": "a", "origin": "https://binder.example"}, "binder.example"),
        ({"host": "a", "origin": "null"}, "null"),
        # Only the scheme goes: Origins that differ after it are bound to different tokens.
        ({"origin": "https://binder.example://x://y"}, "binder.example://x://y"),
        ({}, ""),
    ],
)
def test_token_origin_is_origin_else_host_without_scheme(
    headers: dict[str, str], origin: str
) -> None:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    request = Request({"type": "http", "headers": raw, "method": "GET", "path": "/"})
    assert token_origin(request) == origin


# -- resume secrets -----------------------------------------------------------------------


def stream(world: World, spec: str = "u/r/HEAD") -> tuple[str, Session, Iterator[Progress | None]]:
    """A /build stream of `spec` as the app makes it: recorded with the secret's hash first."""
    secret = new_resume_secret()
    session = record_launch(world.binder, "gh", spec, resume_hash=resume_digest(secret))
    return secret, session, launch_stream(world.binder, session, secret)


def first_event(events: Iterator[Progress | None]) -> Progress:
    return next(e for e in events if e is not None)


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "uncached"])
def test_the_resume_secret_goes_out_before_anything_starts(world: World, cached: bool) -> None:
    if cached:
        world.registry.images.add(f"skybinder-gh-u-r:{SHA}")
    secret, session, events = stream(world)
    stored = world.store.get(session.id)
    assert stored is not None and stored.resume_hash == resume_digest(secret)  # one write
    first = first_event(events)
    assert (first.extra["session_id"], first.extra["resume"]) == (session.id, secret)
    assert first.phase == ("built" if cached else "waiting")
    # Nothing was started when the page got its secret: a reload now reattaches.
    assert world.runner.tasks == {} and world.builder.jobs == {}
    assert may_resume(stored, secret)
    assert not may_resume(stored, secret[:-1] + ("a" if secret[-1] != "a" else "b"))
    assert not may_resume(stored, "")
    rest = [e for e in take_until_quiet(events)]
    assert all("resume" not in e.extra for e in rest)
    assert (world.runner.tasks != {}) if cached else (world.builder.jobs != {})


def take_until_quiet(events: Iterator[Progress | None]) -> list[Progress]:
    out: list[Progress] = []
    for event in events:
        if event is None:
            return out
        out.append(event)
    return out


def test_a_launch_refused_at_once_gets_no_secret(world: World) -> None:
    secret, session, events = stream(world, spec="u/r/no-such-ref")
    assert session.state == S.FAILED and session.resume_hash == ""
    failed = first_event(events)
    assert failed.phase == "failed" and "resume" not in failed.extra
    assert world.store.get(session.id).resume_hash == ""  # type: ignore[union-attr]
    assert secret


def test_with_resume_marks_only_the_first_event() -> None:
    events = [None, Progress(phase="waiting"), None, Progress(phase="building")]
    out = list(with_resume(iter(events), "s1", "secret"))
    assert out[0] is None and out[2] is None
    assert out[1] is not None and out[1].extra == {"session_id": "s1", "resume": "secret"}
    assert out[3] is not None and out[3].extra == {}
    plain = list(with_resume(iter(events), "s1", None))
    assert all(e is None or e.extra == {} for e in plain)
