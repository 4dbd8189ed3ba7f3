"""Sessions, images and the session state machine (DESIGN.md §4)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class SessionState(StrEnum):
    QUEUED = "queued"
    BUILDING = "building"
    BUILT = "built"
    LAUNCHING = "launching"
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({SessionState.STOPPED, SessionState.FAILED})
ACTIVE = frozenset(SessionState) - TERMINAL
# States in which a session holds (or is about to hold) a running server.
RUNNING = frozenset({SessionState.LAUNCHING, SessionState.STARTING, SessionState.READY})
# States in which the session proxy forwards to the session's recorded address: a stopping
# session keeps its route until its server has stopped, so that its user may save their work.
ROUTABLE = frozenset({SessionState.STARTING, SessionState.READY, SessionState.STOPPING})

S = SessionState
# The allowed moves. `failed` is reachable from every non-terminal state; a state may be
# rewritten onto itself (a conditional update of its fields).
TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    S.QUEUED: frozenset({S.QUEUED, S.BUILDING, S.BUILT, S.FAILED}),
    S.BUILDING: frozenset({S.BUILDING, S.BUILT, S.LAUNCHING, S.FAILED}),
    # built -> stopped ends a build-only request: nothing was started, nothing to release.
    S.BUILT: frozenset({S.BUILT, S.LAUNCHING, S.STOPPED, S.FAILED}),
    S.LAUNCHING: frozenset({S.LAUNCHING, S.BUILT, S.STARTING, S.STOPPING, S.STOPPED, S.FAILED}),
    # starting -> built: the server was lost before it was ready (a Spot interruption) and
    # the session is launched again.
    S.STARTING: frozenset({S.STARTING, S.BUILT, S.READY, S.STOPPING, S.STOPPED, S.FAILED}),
    S.READY: frozenset({S.READY, S.STOPPING, S.STOPPED, S.FAILED}),
    S.STOPPING: frozenset({S.STOPPING, S.STOPPED, S.FAILED}),
    S.STOPPED: frozenset(),
    S.FAILED: frozenset(),
}


def can_move(current: SessionState, new: SessionState) -> bool:
    """True when the state machine allows `current -> new`."""
    return new in TRANSITIONS[current]


class Session(BaseModel):
    """One request to launch (or only build) a repository, from admission to its end."""

    id: str
    provider: str
    spec: str
    state: SessionState = SessionState.QUEUED
    reason: str = ""
    status_code: int | None = None
    # Filled in by resolution.
    repo_url: str = ""
    ref: str = ""
    ref_url: str = ""
    resolved_spec: str = ""
    repo_key: str = ""
    image_name: str = ""
    # The environment key when the image is shared by commits with the same environment
    # (the server fetches this session's commit at start); "": the image is this commit's.
    env_key: str = ""
    # "<repo_url>@<commit>" of the build whose image this launch reused, when that build was
    # of another commit or repository; "" otherwise.
    reused_from: str = ""
    build_only: bool = False
    # Its image was there when it was admitted: it waited for no build (what its stream says,
    # without reading the image's record).
    image_found: bool = False
    notices: list[str] = Field(default_factory=list)  # shown to the user while waiting
    # Filled in by the launch.
    token: str = ""
    task_id: str = ""
    address: str = ""
    url: str = ""
    client_ip: str = ""
    launch_host: str = ""
    # sha256 of the secret that lets the page which started the launch reattach to its stream;
    # the secret itself is only ever sent to that page, never stored.
    resume_hash: str = ""
    build_token: bool = False  # launched from a page with a valid build token
    # Events (DESIGN.md §7): the event's slug, and its accounting in micro-dollars.
    event: str = ""
    warm: bool = False  # started ahead for an event; not yet handed to an attendee
    hourly_micros: int = 0  # price per hour where the server runs (worst case until known)
    reserved_micros: int = 0  # the worst case held from the event's budget while active
    cost_micros: int = 0  # settled by the store when the session ends
    capacity: str = ""  # where the server landed: "spot", "on-demand", or "" (unknown)
    interruptions: int = 0  # Spot interruptions met (a relaunch follows one before ready)
    launched_at: float | None = None  # when a server was first asked for (billing starts)
    # Epoch seconds from the service's Clock.
    created_at: float = 0.0
    updated_at: float = 0.0
    ready_at: float | None = None
    ended_at: float | None = None
    # The last request or WebSocket message the session proxy relayed to the session, written
    # at most once a minute: the reaper ends a session whose traffic stopped (DESIGN.md §2).
    last_activity: float | None = None

    @property
    def refused_attempt(self) -> bool:
        """An event launch refused before it held anything: it waited for no build, and the
        stores count it nowhere (kept only so that an event's report shows its refusals)."""
        return bool(self.event) and self.reserved_micros <= 0

    @property
    def binder_request(self) -> str:
        return f"v2/{self.provider}/{self.spec}"

    @property
    def binder_persistent_request(self) -> str:
        return f"v2/{self.provider}/{self.resolved_spec or self.spec}"


class ImageState(StrEnum):
    BUILDING = "building"
    BUILT = "built"
    FAILED = "failed"


class Image(BaseModel):
    """An image (locally: a prepared environment) and the build that makes it."""

    name: str
    state: ImageState = ImageState.BUILDING
    repo_url: str = ""
    ref: str = ""
    build_id: str = ""
    reason: str = ""
    created_at: float = 0.0
    finished_at: float | None = None
    # What the runner launches this image from (in AWS an ECS task definition ARN), kept so
    # that a launch does not register it again; "" until prepared, and always locally.
    task_definition: str = ""
    env_key: str = ""  # the environment key of a shared image; "" for a commit's own image

    @property
    def built_from(self) -> str:
        """ "<repository>@<short commit>": what the image was built from, for people."""
        return f"{self.repo_url}@{self.ref[:12]}"


class Limits(BaseModel):
    """Admission limits checked atomically when a session is created (0 = no limit)."""

    max_sessions: int = 0
    max_sessions_per_repo: int = 0
    # The session's server starts at once: a store that marks the session proxy awake or
    # asleep (ProxyMarks) admits it only while the proxy is marked awake.
    proxy_awake: bool = False


class TaskStatus(StrEnum):
    RUNNING = "running"
    STOPPING = "stopping"  # the platform is about to stop it (a Spot interruption warning)
    STOPPED = "stopped"


SPOT_INTERRUPTION = "spot-interruption"  # how the reason of a Spot interruption starts


def is_spot_interruption(reason: str) -> bool:
    return reason.startswith(SPOT_INTERRUPTION)


IMAGE_MISSING = "image-missing"  # how the reason starts when a server could not pull its image


def is_image_missing(reason: str) -> bool:
    return reason.startswith(IMAGE_MISSING)


class CapacityPolicy(StrEnum):
    """Where a session's server runs, where the platform offers a choice (Fargate in AWS)."""

    SPOT_FALLBACK = "spot-fallback"  # Spot, on-demand when Spot has no capacity
    SPOT = "spot"
    ON_DEMAND = "on-demand"


class Progress(BaseModel):
    """One event of the /build stream, as BinderHub clients read it."""

    phase: str
    message: str = ""
    extra: dict[str, object] = Field(default_factory=dict)

    def payload(self) -> dict[str, object]:
        return {"phase": self.phase, "message": self.message, **self.extra}


class SessionRoute(BaseModel):
    """What the session proxy reads of a session to route `/s/<id>/`: a narrow read, never the
    token. `address` is the route ("host:port" of its server) while the session is routable."""

    id: str
    state: SessionState
    address: str = ""
    provider: str = ""
    spec: str = ""
    event: str = ""  # the event's slug: relaunching goes through its page
    reason: str = ""

    @property
    def routable(self) -> bool:
        return self.state in ROUTABLE and bool(self.address)

    def launch_path(self) -> str:
        """Where the session can be launched again, on the binder's own site ("" when not
        known): the event's page for an event session, else its /v2 link."""
        if self.event:
            return f"/e/{self.event}"
        if self.provider and self.spec:
            return f"/v2/{self.provider}/{self.spec}"
        return ""

    @classmethod
    def of(cls, session: Session) -> SessionRoute:
        return cls.model_validate(session.model_dump(include=set(cls.model_fields)))
