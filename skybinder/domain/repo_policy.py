"""Operator controls over specs (banned, allowed, high-quota) and the providers' settings.

Each provider prefix has its own RepoPolicy, as each BinderHub RepoProvider class has its own
`banned_specs`, `allowed_specs`, `high_quota_specs` and `spec_config`: their patterns are
regular expressions matched with `re.match` (anchored at the start only), ignoring case,
against the unresolved spec *without* the prefix, still percent-encoded as in the URL, e.g.
`binder-examples/requirements/HEAD` for gh or `group%2Fproject/main` for gl. The same four
lists on ProviderSettings itself apply to every provider and see `<provider>/<spec>`, e.g.
`^gh/evil-org/`: one list for an operator who does not think in provider classes.
"""

from __future__ import annotations

import re
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, field_validator

from skybinder.domain.spec_rules import PROVIDERS


def _check_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {err}") from None
    return patterns


def _matches(patterns: list[re.Pattern[str]], spec: str) -> bool:
    return any(pattern.match(spec) for pattern in patterns)


class SpecOverrides(BaseModel):
    """Settings for the specs one `spec_config` pattern matches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quota: int | None = Field(default=None, ge=0)  # sessions per repository; 0: no limit


class SpecConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str
    config: SpecOverrides

    @field_validator("pattern")
    @classmethod
    def _valid_pattern(cls, pattern: str) -> str:
        return _check_patterns([pattern])[0]


class RepoPolicy(BaseModel):
    """Which specs of one provider may launch, and with which per-repository quota."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    banned_specs: list[str] = Field(default_factory=list)
    allowed_specs: list[str] = Field(default_factory=list)  # empty: every spec not banned
    high_quota_specs: list[str] = Field(default_factory=list)
    spec_config: list[SpecConfig] = Field(default_factory=list)

    @field_validator("banned_specs", "allowed_specs", "high_quota_specs")
    @classmethod
    def _valid_patterns(cls, patterns: list[str]) -> list[str]:
        return _check_patterns(patterns)

    def is_banned(self, spec: str) -> bool:
        """True when `spec` matches a banned pattern, or allowed patterns exist and none match."""
        if _matches(self._patterns["banned_specs"], spec):
            return True
        return bool(self.allowed_specs) and not _matches(self._patterns["allowed_specs"], spec)

    def quota(self, spec: str, higher: int | None) -> int | None:
        """The per-repository quota for `spec`, or None for the binder's default.

        A high-quota spec gets `higher` (when set); the last `spec_config` entry that matches
        and names a quota wins over both, as later entries update earlier ones in BinderHub.
        """
        quota = higher if _matches(self._patterns["high_quota_specs"], spec) else None
        for entry in self.spec_config:
            if entry.config.quota is not None and re.match(entry.pattern, spec, re.IGNORECASE):
                quota = entry.config.quota
        return quota

    @cached_property
    def _patterns(self) -> dict[str, list[re.Pattern[str]]]:
        names = ("banned_specs", "allowed_specs", "high_quota_specs")
        return {name: [re.compile(p, re.IGNORECASE) for p in getattr(self, name)] for name in names}


class ProviderSettings(RepoPolicy):
    """Provider configuration shared by every mode; read from `[providers]` of the config file.

    Its own pattern lists (inherited from RepoPolicy) see `<provider>/<spec>`; `policy` holds
    BinderHub's per-provider lists, which see `<spec>`. A spec either bans is banned.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: dict[str, RepoPolicy] = Field(default_factory=dict)  # provider prefix -> policy
    per_repo_quota_higher: int | None = Field(default=None, ge=0)  # quota of high-quota specs
    disabled: list[str] = Field(default_factory=list)  # provider prefixes that never launch
    gitlab_hosts: list[str] = Field(default_factory=list)  # self-hosted GitLabs, besides gitlab.com
    dataverse_hosts: list[str] = Field(default_factory=list)  # beyond the installations we ship
    allow_secret_gists: bool = False
    cache_ttl: float = Field(default=60.0, ge=0)  # seconds a branch, tag or HEAD stays resolved
    cache_pinned_ttl: float = Field(default=86400.0, ge=0)  # ... a spec that names a commit sha
    cache_negative_ttl: float = Field(default=30.0, ge=0)  # ... "no such repository or ref"

    @field_validator("policy", "disabled")
    @classmethod
    def _known_prefixes(cls, value: dict[str, RepoPolicy] | list[str]) -> object:
        unknown = sorted(set(value) - set(PROVIDERS))
        if unknown:
            raise ValueError(f"unknown provider {unknown[0]!r}; known: {', '.join(PROVIDERS)}")
        return value

    @field_validator("gitlab_hosts", "dataverse_hosts")
    @classmethod
    def _host_names(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?", host):
                raise ValueError(f"{host!r} is not a host name (write gitlab.example.org)")
        return [host.lower() for host in hosts]

    def policy_for(self, provider: str) -> RepoPolicy:
        return self.policy.get(provider) or RepoPolicy()

    def banned(self, provider: str, spec: str) -> bool:
        """True when the operator's lists, for all providers or for this one, refuse `spec`."""
        return self.is_banned(f"{provider}/{spec}") or self.policy_for(provider).is_banned(spec)

    def quota_for(self, provider: str, spec: str) -> int | None:
        """The per-repository quota of `spec`: the provider's own lists win over the global."""
        higher = self.per_repo_quota_higher
        own = self.policy_for(provider).quota(spec, higher)
        return own if own is not None else self.quota(f"{provider}/{spec}", higher)
