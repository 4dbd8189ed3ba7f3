"""Build tokens (issue, expiry, audience, origin) and resume secrets (attach, check)."""

from __future__ import annotations

import hashlib
import logging

import jwt
import pytest
from starlette.requests import Request

from skybinder.api.tokens import BuildTokenError, BuildTokens, token_origin
from skybinder.domain.model import Progress, Session, SessionState
from skybinder.service.resume import attach_resume, may_resume, with_resume
from tests.fakes import FakeSessionStore
from tests.unit.conftest import World

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


def add_session(world: World, state: SessionState = S.BUILDING) -> Session:
    session = Session(id="s1", provider="gh", spec="u/r/HEAD", state=state)
    world.store.create(session)
    return session


def test_attach_stores_only_the_hash_and_keeps_the_state(world: World) -> None:
    add_session(world)
    secret = attach_resume(world.binder, "s1")
    assert secret is not None and len(secret) >= 40
    stored = world.store.get("s1")
    assert stored is not None and stored.state == S.BUILDING
    assert stored.resume_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert may_resume(stored, secret)
    assert not may_resume(stored, secret[:-1] + ("a" if secret[-1] != "a" else "b"))
    assert not may_resume(stored, "")
    assert attach_resume(world.binder, "s1") != secret  # a new secret each time


@pytest.mark.parametrize("state", [S.FAILED, S.STOPPED])
def test_an_ended_session_gets_no_secret(world: World, state: SessionState) -> None:
    add_session(world, state)
    assert attach_resume(world.binder, "s1") is None
    assert attach_resume(world.binder, "nope") is None
    session = world.store.get("s1")
    assert session is not None and session.resume_hash == ""
    assert not may_resume(session, "")


class RacingStore(FakeSessionStore):
    """A store where the launch moves the session on just before our write, once."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    def transition(self, session_id, expected, new, **changes):  # type: ignore[no-untyped-def]
        if "resume_hash" in changes and not self.raced:
            self.raced = True
            super().transition(session_id, {S.BUILDING}, S.BUILT)
        return super().transition(session_id, expected, new, **changes)


def test_attach_retries_when_the_launch_moves_on_meanwhile(world: World) -> None:
    store = RacingStore()
    world.binder.store = store
    store.create(Session(id="s1", provider="gh", spec="u/r/HEAD", state=S.BUILDING))
    secret = attach_resume(world.binder, "s1")
    session = store.get("s1")
    assert store.raced and secret is not None and session is not None
    assert session.state == S.BUILT  # the launch's move stands
    assert may_resume(session, secret)


def test_with_resume_marks_only_the_first_event() -> None:
    events = [None, Progress(phase="waiting"), None, Progress(phase="building")]
    out = list(with_resume(iter(events), "s1", "secret"))
    assert out[0] is None and out[2] is None
    assert out[1] is not None and out[1].extra == {"session_id": "s1", "resume": "secret"}
    assert out[3] is not None and out[3].extra == {}
    plain = list(with_resume(iter(events), "s1", None))
    assert all(e is None or e.extra == {} for e in plain)
