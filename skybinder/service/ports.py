"""The ports: what the service layer needs from the world, as Protocols.

Adapters implement them by technology (SqliteSessionStore, VenvBuilder, ProcessRunner,
ProxyRouter; DynamoSessionStore, CodeBuildBuilder, EcsRunner, EcsProxyFleet). Tests use in-memory
fakes that keep real state (tests/fakes.py); one contract suite per port keeps the fakes honest.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Mapping
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from skybinder.domain.event import Event, EventUsage
from skybinder.domain.model import (
    CapacityPolicy,
    Image,
    ImageState,
    Limits,
    Session,
    SessionRoute,
    SessionState,
)


class ResolvedRepo(BaseModel):
    """What resolving a spec yields: everything needed to name, build and describe the image."""

    provider: str
    spec: str
    repo_url: str  # what the builder fetches
    ref: str  # the resolved, immutable ref (a commit sha for git-based providers)
    ref_url: str  # a page a person can open to see that ref (binder_ref_url)
    resolved_spec: str  # the spec with the resolved ref (binder_persistent_request)
    repo_key: str  # identifies the repository across refs, for the per-repo quota
    slug: str  # a docker-safe name for the repository, for image naming
    notices: list[str] = Field(default_factory=list)  # `waiting` messages for the user
    quota: int | None = None  # sessions allowed for this repo_key; None: the default (0: no limit)
    # The digest of the files that determine the repository's environment
    # (domain/environment.py); "": its image is built per commit (a content-dependent build,
    # a data record, or a tree that could not be read).
    env_digest: str = ""


class Resolver(Protocol):
    def resolve(self, provider: str, spec: str) -> ResolvedRepo:
        """Parse `spec` by the rules of `provider` and resolve its ref.

        Raises SpecError (malformed spec), UnknownProviderError, ProviderDisabledError,
        SpecBannedError (the operator disabled the spec), UnsafeUrlError (the spec leads to a
        local or private address), ResolveError (repository or ref not found) or
        ProviderUnavailableError.
        """
        ...

    def display_configs(self) -> list[dict[str, object]]:
        """The /api/repoproviders entries of the providers this binder resolves."""
        ...


class SessionStore(Protocol):
    def create(self, session: Session, limits: Limits | None = None) -> None:
        """Insert a new session.

        With `limits`, admission is atomic with the insert: QuotaExceededError is raised when
        the active sessions (all of them, or those with the same repo_key) already reach a
        non-zero limit. Every active session counts, build-only ones too (a build takes the
        machine as a server does). ValueError if the id exists.

        An active session with `event` set joins that event in the same atomic step:
        EventNotFoundError when there is no such event, EventClosedError when it was closed,
        EventFullError when its active sessions fill its seats, BudgetExhaustedError when
        `budget - spent - reserved` of the event is below the session's `reserved_micros`.
        """
        ...

    def get(self, session_id: str) -> Session | None:
        """The session, or None when there is no such session."""
        ...

    def transition(
        self,
        session_id: str,
        expected: Iterable[SessionState],
        new: SessionState,
        **changes: object,
    ) -> Session | None:
        """Conditional write: if the session's state is in `expected`, set state `new` and the
        fields in `changes` (and `updated_at` when given) and return the updated session;
        otherwise change nothing and return None. The check and the write are one atomic step.

        A move to `stopped` or `failed` settles the session in the same step: `cost_micros`
        is set to `event_admission.session_cost` of the moved session, and an event session
        gives back its seat and reservation and adds that cost (and its `interruptions`) to
        the event's spending. A session ends once, so it is settled exactly once.
        """
        ...

    def list(
        self,
        states: Iterable[SessionState] | None = None,
        image_name: str | None = None,
    ) -> list[Session]:
        """Sessions in any of `states` (all when None), optionally of one image, oldest first."""
        ...

    def find_by_task(self, task_id: str) -> Session | None:
        """The session whose task_id is `task_id`, or None."""
        ...

    def get_image(self, name: str) -> Image | None:
        """The image record, or None."""
        ...

    def claim_build(self, image: Image) -> bool:
        """Write `image` (state building) unless a record exists that is building or built.

        True means the caller owns the build and must start it; False means another caller
        does (or the image is built): join it. Atomic, so concurrent launches share one build.
        """
        ...

    def list_images(self) -> builtins.list[Image]:
        """Every image record, newest first (by created_at, then name)."""
        ...

    def update_image(
        self,
        name: str,
        expected: Iterable[ImageState],
        new: ImageState,
        where: Mapping[str, object] | None = None,
        /,
        **changes: object,
    ) -> Image | None:
        """Conditional write on an image record, as `transition` is for sessions. With
        `where` ({"reason": "queued"}), the record's fields must also have those values."""
        ...

    # -- events (DESIGN.md §7) -------------------------------------------------------------

    def create_event(self, event: Event) -> None:
        """Insert an event; ValueError if its slug is taken."""
        ...

    def get_event(self, slug: str) -> Event | None:
        """The event, or None."""
        ...

    def list_events(self) -> builtins.list[Event]:
        """Every event, by start time (then slug)."""
        ...

    def update_event(self, slug: str, **changes: object) -> Event | None:
        """Set fields of an event that are not its identity or accounting (`prebuild_session`,
        `closed_at`, ...); None when there is no such event. Setting `closed_at` on an event
        that is closed already keeps the first closing time (and returns the event)."""
        ...

    def event_usage(self, slug: str) -> EventUsage:
        """Seats in use, reserved and spent money, sessions and interruptions of an event, as
        admission sees them (all zero for an unknown event)."""
        ...

    def claim_warm(self, session_id: str, **changes: object) -> Session | None:
        """Hand a warm session to an attendee: if it is `warm` and launching, starting or
        ready, set warm to False and the fields in `changes` and return it (in the state it
        was in); otherwise None. Atomic: of concurrent claims of one session, one wins."""
        ...

    # -- the session proxy ---------------------------------------------------------------

    def route(self, session_id: str) -> SessionRoute | None:
        """What the session proxy needs to route the session (SessionRoute), read narrowly
        and strongly consistent; None when there is no such session."""
        ...

    def record_activity(self, session_id: str, at: float) -> bool:
        """Note traffic to a session at `at` (epoch seconds): set its `last_activity` to `at`
        unless that is earlier than what is stored. Only active sessions are written; False
        when the session is unknown or ended, or already has a later activity. Changes no
        other field, and never makes a concurrent `transition` fail or lose its write."""
        ...


class ImageRegistry(Protocol):
    def has(self, image_name: str) -> bool:
        """True when the image exists and can be launched without a build."""
        ...


class BuildJob(BaseModel):
    image_name: str
    repo_url: str
    ref: str
    provider: str


class LogChunk(BaseModel):
    lines: list[str]
    cursor: str | None  # pass back to get the lines after these; None: nothing read yet


class Builder(Protocol):
    def start(self, job: BuildJob) -> str:
        """Start building `job` and return its build id at once.

        Completion is reported to the service's `on_build_finished` through the platform's
        event channel (a callback locally, EventBridge in AWS), never by this call. Raises
        BuildError when the job cannot be built, and BuilderBusyError when the builder is at
        its limit of concurrent builds: nothing was started, and the job may be started later.
        """
        ...

    def logs(self, build_id: str, cursor: str | None = None) -> LogChunk:
        """Log lines of a build after `cursor` (from the start when None).

        Lines are repo2docker-style JSON objects with `phase` and `message` where the builder
        knows the phase, plain text otherwise. Unknown build ids yield no lines.
        """
        ...

    def info(self) -> dict[str, object]:
        """What /versions reports as builder_info."""
        ...


@runtime_checkable
class BuildControl(Protocol):
    """A Builder that knows which of its builds run, and can end one (the local builder)."""

    def is_live(self, build_id: str) -> bool:
        """True while build `build_id` runs; False for a build this builder does not run (a
        binder that crashed mid-build left such a record behind)."""
        ...

    def cancel(self, build_id: str, reason: str) -> None:
        """End build `build_id` now, everything it started included; it reports a failure
        with `reason` through the usual channel. Idempotent; a no-op for unknown builds."""
        ...


class LaunchRequest(BaseModel):
    session_id: str
    image_name: str
    base_url: str  # "/s/<session-id>/"
    token: str
    env: dict[str, str]  # the BINDER_* variables
    task_definition: str = ""  # what `Runner.prepare` returned for the image; "": not known
    capacity: CapacityPolicy | None = None  # None: the runner's configured policy
    cpu: float = 0  # vCPUs for this session; 0: the runner's default size
    memory_gb: float = 0  # memory for this session; 0: the runner's default size
    idle_timeout: int = 0  # seconds an idle server is kept; 0: the runner's setting
    attempt: int = 0  # 0 for the first start, n for the n-th relaunch (a new idempotency key)
    # The repository and commit the server fetches into its home before Jupyter starts (an
    # environment-keyed image holds another commit's files); "" when the image holds them.
    content_url: str = ""
    content_ref: str = ""


class Runner(Protocol):
    def prepare(self, image_name: str) -> str:
        """Make a built image launchable and return what `start` launches it from (kept on
        the image record and passed back as LaunchRequest.task_definition); "" when the runner
        needs nothing. Idempotent. Raises LaunchError when the image cannot be prepared.
        """
        ...

    def start(self, request: LaunchRequest) -> str:
        """Start a Jupyter server for the session and return its task id at once.

        The task's RUNNING (with its address) and STOPPED (with a reason) are reported to the
        service's `on_task_state` through the platform's event channel. Raises LaunchError
        when the task cannot be started at all.
        """
        ...

    def stop(self, task_id: str) -> None:
        """Ask the task to stop; idempotent, also for tasks that already ended."""
        ...

    def is_alive(self, task_id: str) -> bool:
        """False when the task is known to have ended (or never existed)."""
        ...


class Router(Protocol):
    """Where users reach sessions. A session's route is its address in the store: the session
    proxy reads it and forwards `/s/<session id>/` there, so a router only names URLs."""

    def url(self, session: Session) -> str:
        """The session's public URL (absolute, ending with "/"): the binder's public URL, or
        the one its launch request came in on (`session.launch_host`), plus `s/<id>/`."""
        ...

    def probe_url(self, session: Session) -> str:
        """Where the binder itself checks that the session's server answers (its `api`
        endpoint below this URL): the public URL, or a shorter way to the same server."""
        ...


class ProxyFleet(Protocol):
    """The session proxy's tasks, where the platform runs them as a service of their own that
    can sleep (AWS: an ECS service behind the load balancer, scaled to zero when idle). Locally
    the proxy is part of `skybinder serve`, and a binder has no fleet to tend."""

    def wake(self) -> None:
        """Have the proxy run, at least its floor of tasks, never lowering a scale it has grown
        to (autoscaling's); idempotent."""
        ...

    def sleep(self) -> None:
        """Stop every proxy task (scale to zero); idempotent."""
        ...

    def awake(self) -> bool:
        """True when the proxy is set to run tasks, as the platform says now."""
        ...


@runtime_checkable
class ProxyMarks(Protocol):
    """A SessionStore that marks the session proxy awake or asleep beside its count of active
    sessions, so that admission and sleep exclude each other atomically (DynamoDB's does, with
    its admission counter): a session that starts at once is admitted (Limits.proxy_awake)
    only while the proxy is marked awake, and the proxy is marked asleep only while no session
    is active and none has been admitted or has ended for a while."""

    def proxy_awake(self) -> bool:
        """True when the proxy is marked awake. Read strongly consistent."""
        ...

    def mark_proxy_awake(self) -> None:
        """Mark the proxy awake (before its tasks are asked to run); idempotent."""
        ...

    def mark_proxy_asleep(self, quiet_since: float) -> bool:
        """Atomically: if the proxy is marked awake, no session is active and none was admitted
        or ended at or after `quiet_since` (epoch seconds), mark it asleep and return True;
        otherwise change nothing and return False."""
        ...


@runtime_checkable
class Sweepable(Protocol):
    """A Runner that can list what it holds, so the reaper can release what no live session
    owns (a crash between two steps of a launch leaves such orphans behind)."""

    def held(self) -> dict[str, str]:
        """Everything held for sessions: resource id -> the session id it was made for."""
        ...

    def release(self, resource: str) -> None:
        """Let go of one resource `held` returned; idempotent."""
        ...


@runtime_checkable
class StopReasons(Protocol):
    """A Runner that can say why a task it started has ended (ECS keeps a stop code)."""

    def stop_reason(self, task_id: str) -> str:
        """Why the task ended, as on_task_state's STOPPED reason; "" when not known."""
        ...


@runtime_checkable
class CounterRepair(Protocol):
    """A SessionStore that keeps admission counters beside the sessions (DynamoDB does)."""

    def repair_counters(self) -> Mapping[str, object]:
        """Recount the counters from the active sessions; return those it corrected."""
        ...


@runtime_checkable
class TaskSurvey(Protocol):
    """A Runner that can look at many tasks in one call (ECS: DescribeTasks takes 100). The
    reaper surveys the tasks of every active session at the start of a pass, and the runner
    answers what the pass asks about those tasks (is_alive, and why one stopped) from that look
    instead of a call a session: at 2,000 sessions, ECS's read throttle (20 calls a second)
    would make a call a session outlast the reap function."""

    def survey(self, task_ids: Collection[str]) -> None:
        """Look at these tasks now. Answers about them come from this look until the next
        survey, for at most a minute (a task stopped since is asked about again); a task not
        surveyed is asked about as before."""
        ...


class Prober(Protocol):
    def ready(self, url: str) -> bool:
        """True when Jupyter answers at `url` (its unauthenticated `api` endpoint)."""
        ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None: ...


class RateLimitResult(BaseModel):
    """What one RateLimiter.check decided, with what BinderHub sends as x-ratelimit-* headers."""

    allowed: bool
    limit: int  # attempts allowed per window; 0: no limit
    remaining: int  # attempts left in this window, never negative
    reset: int  # epoch seconds at which the window ends and counting starts again
    retry_after: int  # seconds until `reset`, rounded up: "Try again in N seconds."

    @classmethod
    def of(cls, count: int, reset: int, limit: int, now: float) -> RateLimitResult:
        """The result for the `count`-th attempt of a window that ends at `reset`."""
        return cls(
            allowed=count <= limit,
            limit=limit,
            remaining=max(0, limit - count),
            reset=reset,
            retry_after=max(0, reset - int(now)),  # ceil(reset - now), as reset is whole
        )

    @classmethod
    def unlimited(cls, now: float) -> RateLimitResult:
        return cls(allowed=True, limit=0, remaining=0, reset=int(now), retry_after=0)

    @staticmethod
    def check_arguments(key: str, limit: int, window_seconds: int) -> None:
        """ValueError unless `key` is set, `limit` >= 0 and `window_seconds` > 0."""
        if not key:
            raise ValueError("A rate limit needs a key (the client's address).")
        if limit < 0 or window_seconds <= 0:
            raise ValueError(
                f"A rate limit needs limit >= 0 and a window > 0 s, not {limit} per "
                f"{window_seconds} s."
            )

    def headers(self) -> dict[str, str]:
        """BinderHub's response headers; none when limiting is off, as BinderHub does."""
        if self.limit == 0:
            return {}
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
        }


class RateLimiter(Protocol):
    def check(self, key: str, limit: int, window_seconds: int, now: float) -> RateLimitResult:
        """Count one attempt by `key` (a client's IP address) and say if it is within `limit`.

        BinderHub's fixed window (binderhub/ratelimit.py): a key's first attempt opens a window
        that ends at `reset = int(now) + window_seconds`; the window's attempts are counted,
        refused ones too, and the n-th is allowed while n <= `limit`, so the whole limit may be
        used at once. The first attempt at or after `reset` opens the next window. A window
        keeps the `reset` it opened with, whatever `window_seconds` later calls pass.

        Atomic: of N concurrent attempts in one window, exactly min(N, free slots) are allowed,
        across threads, processes and Lambdas sharing the limiter's storage. `limit` 0 turns
        limiting off: allowed, nothing stored, no headers. ValueError for an empty key, a
        negative limit or a window <= 0.
        """
        ...

    def attempts(self, key: str, now: float) -> tuple[int, int]:
        """(attempts counted for `key` in its live window, the window's `reset`), without
        counting one; (0, 0) when `key` has no live window (none, or one that has ended).

        What a caller reads before deciding whether to count: access-code guesses are counted
        only when wrong, and refused for everyone once a window holds the limit.
        """
        ...
