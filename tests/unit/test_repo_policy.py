"""Operator controls: BinderHub's banned, allowed and high-quota specs and spec_config, per
provider, matched case-insensitively from the start of the unresolved spec."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from skybinder.domain.errors import ProviderDisabledError, SpecBannedError, SpecError
from skybinder.domain.repo_policy import ProviderSettings, RepoPolicy
from tests.provider_fakes import Web, make_resolver

SHA = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"


def test_banned_specs_match_from_the_start_ignoring_case() -> None:
    policy = RepoPolicy(banned_specs=["^ines/spacy-binder.*", "evil-org/"])
    assert policy.is_banned("ines/spacy-binder/HEAD")
    assert policy.is_banned("INES/Spacy-Binder/main")
    assert policy.is_banned("evil-org/anything/HEAD")  # re.match: anchored at the start
    assert not policy.is_banned("good/evil-org/HEAD")  # ... and only there
    assert not policy.is_banned("ines/other/HEAD")


def test_allowed_specs_refuse_everything_else_and_banned_wins() -> None:
    policy = RepoPolicy(allowed_specs=["^my-course/"], banned_specs=["^my-course/secret"])
    assert not policy.is_banned("my-course/week1/HEAD")
    assert not policy.is_banned("My-Course/week2/main")
    assert policy.is_banned("someone/else/HEAD")
    assert policy.is_banned("my-course/secret-answers/HEAD")
    assert not RepoPolicy().is_banned("anyone/anything/HEAD")


def test_quota_from_high_quota_specs_and_spec_config() -> None:
    policy = RepoPolicy(
        high_quota_specs=["^binder-examples/"],
        spec_config=[
            {"pattern": "^binder-examples/big", "config": {"quota": 500}},
            {"pattern": "^course/", "config": {"quota": 50}},
            {"pattern": "^course/final", "config": {"quota": 80}},
        ],
    )
    assert policy.quota("binder-examples/requirements/HEAD", 200) == 200
    assert policy.quota("binder-examples/requirements/HEAD", None) is None
    assert policy.quota("Binder-Examples/BIG-data/HEAD", 200) == 500
    assert policy.quota("course/week1/HEAD", 200) == 50
    assert policy.quota("course/final-exam/HEAD", 200) == 80  # later entries win
    assert policy.quota("someone/else/HEAD", 200) is None


@pytest.mark.parametrize(
    "settings",
    [
        {"policy": {"gh": {"banned_specs": ["(unclosed"]}}},
        {"policy": {"gh": {"spec_config": [{"pattern": "[", "config": {"quota": 1}}]}}},
        {"policy": {"gh": {"spec_config": [{"pattern": "x", "config": {"quota": -1}}]}}},
        {"policy": {"gh": {"spec_config": [{"pattern": "x", "config": {"quotas": 1}}]}}},
        {"policy": {"svn": {}}},
        {"disabled": ["bitbucket"]},
        {"gitlab_hosts": ["https://gitlab.example.org"]},
        {"banned_specs": ["(x"]},
        {"high_quota": ["x"]},
    ],
)
def test_settings_mistakes_are_caught_when_read(settings: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ProviderSettings.model_validate(settings)


# --- through the resolver ------------------------------------------------------------------


def github_web() -> Web:
    web = Web()
    for user in ("ines", "binder-examples", "course"):
        for repo in ("spacy-binder", "requirements", "final-exam"):
            web.json(f"https://api.github.com/repos/{user}/{repo}/commits/HEAD", {"sha": SHA})
    return web


def test_banned_spec_is_refused_with_binderhubs_message_before_any_request() -> None:
    web = github_web()
    settings = ProviderSettings(policy={"gh": RepoPolicy(banned_specs=["^ines/spacy-binder"])})
    resolver = make_resolver(web, settings=settings)
    with pytest.raises(SpecBannedError) as caught:
        resolver.resolve("gh", "ines/spacy-binder/HEAD/")
    assert caught.value.status_code == 403
    assert caught.value.message == (
        "Sorry, ines/spacy-binder/HEAD has been temporarily disabled from launching. "
        "Please contact admins for more info!"
    )
    assert web.requests == []
    assert resolver.resolve("gh", "binder-examples/requirements/HEAD").ref == SHA


def test_policies_belong_to_one_provider() -> None:
    settings = ProviderSettings(policy={"gl": RepoPolicy(banned_specs=[".*"])})
    assert make_resolver(github_web(), settings=settings).resolve(
        "gh", "ines/spacy-binder/HEAD"
    ).ref == SHA  # fmt: skip


def test_a_malformed_spec_is_reported_as_such_even_when_banned() -> None:
    settings = ProviderSettings(policy={"gh": RepoPolicy(banned_specs=[".*"])})
    with pytest.raises(SpecError):
        make_resolver(Web(), settings=settings).resolve("gh", "just-a-user")


def test_banned_patterns_see_the_spec_still_percent_encoded() -> None:
    settings = ProviderSettings(policy={"gl": RepoPolicy(banned_specs=["^evil%2F"])})
    with pytest.raises(SpecBannedError):
        make_resolver(Web(), settings=settings).resolve("gl", "evil%2Fproject/main")


def test_resolved_repos_carry_their_quota() -> None:
    policy = RepoPolicy(
        high_quota_specs=["^binder-examples/"],
        spec_config=[{"pattern": "^course/", "config": {"quota": 40}}],
    )
    settings = ProviderSettings(policy={"gh": policy}, per_repo_quota_higher=200)
    resolver = make_resolver(github_web(), settings=settings)
    assert resolver.resolve("gh", "binder-examples/requirements/HEAD").quota == 200
    assert resolver.resolve("gh", "course/final-exam/HEAD").quota == 40
    assert resolver.resolve("gh", "ines/requirements/HEAD").quota is None


def test_disabled_providers_refuse_and_leave_the_list() -> None:
    settings = ProviderSettings(disabled=["git", "ckan"])
    resolver = make_resolver(Web(), settings=settings)
    with pytest.raises(ProviderDisabledError, match="The git provider is disabled") as caught:
        resolver.resolve("git", "https%3A%2F%2Fexample.org%2Fr.git/HEAD")
    assert caught.value.status_code == 400
    assert "ckan" not in [c["id"] for c in resolver.display_configs()]
    assert "git" not in resolver.enabled()


def test_global_lists_see_the_provider_prefix() -> None:
    settings = ProviderSettings(
        banned_specs=["^gh/evil/"],
        high_quota_specs=["^gl/"],
        per_repo_quota_higher=300,
        policy={"gh": RepoPolicy(spec_config=[{"pattern": "^big/", "config": {"quota": 7}}])},
    )
    assert settings.banned("gh", "Evil/repo/HEAD")
    assert not settings.banned("gl", "evil%2Frepo/HEAD")
    assert not settings.banned("gh", "good/evil/HEAD")
    assert settings.quota_for("gl", "g%2Fp/main") == 300
    assert settings.quota_for("gh", "big/r/HEAD") == 7  # the provider's own list wins
    assert settings.quota_for("gh", "small/r/HEAD") is None


def test_global_allowed_specs_refuse_other_providers() -> None:
    settings = ProviderSettings(allowed_specs=["^gh/my-course/", "^zenodo/"])
    assert not settings.banned("gh", "my-course/week1/HEAD")
    assert not settings.banned("zenodo", "10.5281/zenodo.3242074")
    assert settings.banned("gh", "other/week1/HEAD")
    assert settings.banned("git", "https%3A%2F%2Fexample.org%2Fr/HEAD")


def test_global_ban_through_the_resolver() -> None:
    resolver = make_resolver(github_web(), settings=ProviderSettings(banned_specs=["^gh/ines/"]))
    with pytest.raises(SpecBannedError):
        resolver.resolve("gh", "ines/spacy-binder/HEAD")
    assert resolver.resolve("gh", "course/final-exam/HEAD").ref == SHA
