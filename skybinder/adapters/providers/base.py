"""The base class of repository providers, a parse-only provider, and the image-name slug helper."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from skybinder.domain.errors import ProviderDisabledError
from skybinder.domain.specs import ParsedSpec, parse_spec
from skybinder.service.ports import ResolvedRepo

S = TypeVar("S")

SLUG_MAX_LENGTH = 40
SLUG_HASH_LENGTH = 8


class RepoProvider(ABC, Generic[S]):
    """One provider prefix (gh, git, ...): parses its specs and pins them to an immutable ref.

    `resolve` runs the hooks in order: `parse` -> `resolve_ref` -> `describe`. Subclasses
    implement the hooks; ProviderResolver picks a provider by `prefix` from an ordered list.
    """

    prefix: str

    def resolve(self, spec: str) -> ResolvedRepo:
        """Parse `spec` and resolve its ref; raises the errors listed on the Resolver port."""
        parsed = self.parse(spec)
        notices: list[str] = []
        ref = self.resolve_ref(parsed, notices)
        return self.describe(spec.rstrip("/"), parsed, ref).model_copy(update={"notices": notices})

    @abstractmethod
    def parse(self, spec: str) -> S:
        """The parsed spec. Raises SpecError when `spec` breaks the provider's rules."""

    @abstractmethod
    def resolve_ref(self, parsed: S, notices: list[str]) -> str:
        """The immutable ref (a commit sha for git) that `parsed` points at now.

        May append messages for the user to `notices`. Raises ResolveError when the repository
        or ref does not exist, ProviderUnavailableError when the provider cannot answer.
        """

    @abstractmethod
    def describe(self, spec: str, parsed: S, ref: str) -> ResolvedRepo:
        """The ResolvedRepo of `parsed` pinned to `ref`; no I/O, notices are added by `resolve`."""

    def display_config(self) -> dict[str, object] | None:
        """This provider's /api/repoproviders entry; None keeps it off the list."""
        return None


class ParseOnlyProvider(RepoProvider[ParsedSpec]):
    """A prefix this binder knows but does not resolve yet: validates the spec, then refuses."""

    def __init__(self, prefix: str, enabled: list[str]) -> None:
        self.prefix = prefix
        self._enabled = enabled  # shared with the resolver, so the message names what works

    def parse(self, spec: str) -> ParsedSpec:
        return parse_spec(self.prefix, spec)

    def resolve_ref(self, parsed: ParsedSpec, notices: list[str]) -> str:
        raise self._disabled()

    def describe(self, spec: str, parsed: ParsedSpec, ref: str) -> ResolvedRepo:
        raise self._disabled()

    def _disabled(self) -> ProviderDisabledError:
        enabled = ", ".join(self._enabled) or "none"
        return ProviderDisabledError(
            f"The {self.prefix} provider is not enabled on this binder yet; the spec is valid, "
            f"but only these providers can be launched here: {enabled}."
        )


def make_slug(prefix: str, name: str, identity: str) -> str:
    """A docker-image-name-safe slug such as "gh-binder-examples-requirements-1a2b3c4d".

    Lower-case [a-z0-9-], dashes collapsed, at most SLUG_MAX_LENGTH characters. The readable
    part may be cut or may coincide for two repositories ("a.b" and "a-b"), so a hash of the
    exact `identity` (the repo_key) ends the slug to keep different repositories apart.
    """
    digest = hashlib.sha256(identity.encode()).hexdigest()[:SLUG_HASH_LENGTH]
    readable = re.sub(r"[^a-z0-9]+", "-", f"{prefix}-{name}".lower()).strip("-")
    readable = readable[: SLUG_MAX_LENGTH - SLUG_HASH_LENGTH - 1].rstrip("-")
    return f"{readable}-{digest}" if readable else digest
