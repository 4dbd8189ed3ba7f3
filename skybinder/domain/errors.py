"""The error hierarchy users and entry points see.

SkybinderError                 every error we raise on purpose; carries an HTTP-like status_code
 ├── SpecError                 a /build or /v2 spec that does not follow the provider's rules (400)
 ├── UnknownProviderError      a provider prefix we do not know (404)
 ├── ProviderDisabledError     a provider this binder does not resolve (400)
 ├── SpecBannedError           a spec the operator has disabled, or not allowed (403)
 ├── UnsafeUrlError            a URL leading to a local or private network address (400)
 ├── ResolveError              a repository or ref that cannot be resolved (404)
 ├── ProviderUnavailableError  the provider's API is down or limiting us (503 / 429)
 ├── QuotaExceededError        too many sessions, globally or for one repository (429)
 │    ├── EventFullError        every seat of an event is taken (429)
 │    └── BudgetExhaustedError  an event's budget cannot cover one more session (429)
 ├── EventNotFoundError        no event has that slug (404)
 ├── EventExistsError          an event with that slug exists already (409)
 ├── EventClosedError          the event has not started, has ended or was closed (403)
 ├── AccessCodeError           the event's access code is missing or wrong (403), or guessed too
 │                             often from one address (429)
 ├── BuildError                the builder could not build the image (500)
 ├── BuilderBusyError          every builder is in use: the build waits for a free one (503)
 ├── ProxyAsleepError          the session proxy sleeps: wake it, then admit the session (503)
 └── LaunchError               the runner could not start or keep the session (500)
      └── RunnerBusyError       the platform refuses more starts for now: start it again (503)

Messages are written for a person: what happened, why, and what to do next.
"""

from __future__ import annotations


class SkybinderError(Exception):
    """Base of every error skybinder raises on purpose."""

    status_code = 500

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class SpecError(SkybinderError):
    status_code = 400


class UnknownProviderError(SkybinderError):
    status_code = 404


class ProviderDisabledError(SkybinderError):
    status_code = 400


class SpecBannedError(SkybinderError):
    status_code = 403


class UnsafeUrlError(SkybinderError):
    status_code = 400


class ResolveError(SkybinderError):
    status_code = 404


class ProviderUnavailableError(SkybinderError):
    status_code = 503


class QuotaExceededError(SkybinderError):
    status_code = 429


class BuildError(SkybinderError):
    status_code = 500


class BuilderBusyError(SkybinderError):
    """Not a failure: the builder is at its limit of concurrent builds; start it again later."""

    status_code = 503


class ProxyAsleepError(SkybinderError):
    """The session proxy is asleep (no task), so a session that would start now was not
    admitted: the service wakes the proxy and admits it again. Never shown to a user."""

    status_code = 503


class LaunchError(SkybinderError):
    status_code = 500


class RunnerBusyError(LaunchError):
    """Not a failure: the platform throttles server starts (AWS's RunTask rate); the server
    is started again a little later."""

    status_code = 503


class EventFullError(QuotaExceededError):
    pass


class BudgetExhaustedError(QuotaExceededError):
    pass


class EventNotFoundError(SkybinderError):
    status_code = 404


class EventExistsError(SkybinderError):
    status_code = 409


class EventClosedError(SkybinderError):
    status_code = 403


class AccessCodeError(SkybinderError):
    status_code = 403
