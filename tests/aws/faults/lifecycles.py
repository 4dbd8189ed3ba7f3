"""The lifecycles the fault suite runs: a launch request, what AWS then does (each change
announced by an event), and the /build stream looking whether Jupyter answers.

Steps say what happens to whatever exists, never to one id: a fault may make a session start
another task, or a request fail before it made anything, and the lifecycle goes on all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from skybinder.domain.event import EventRequest
from skybinder.service.events import create_event, request_event_launch
from skybinder.service.launch import request_launch
from tests.aws.compute_fixtures import IMAGE, SPEC
from tests.aws.faults.world import Aws, Event

SLUG = "workshop"


@dataclass(frozen=True)
class Step:
    kind: str  # "request" (a call to the launch function), "aws" (AWS does it), "probe"
    what: str
    action: Callable[[Aws], list[Event] | None]


def _launch(aws: Aws) -> None:
    request_launch(aws.cloud.binder, "gh", SPEC)


def _push(aws: Aws) -> list[Event]:
    aws.cloud.push_image(IMAGE)  # built before: a prebuild, or an earlier visitor's build
    return []


def _create_event(aws: Aws) -> None:
    now = aws.cloud.clock.now()
    request = EventRequest(
        slug=SLUG,
        title="Workshop",
        provider="gh",
        spec=SPEC,
        starts_at=datetime.fromtimestamp(now - 60, UTC),
        ends_at=datetime.fromtimestamp(now + 8 * 3600, UTC),
        seats=2,
        budget_usd=5.0,
        max_minutes=120,
    )
    create_event(aws.cloud.binder, request)


def _attend(aws: Aws) -> None:
    request_event_launch(aws.cloud.binder, "gh", SPEC, slug=SLUG, code=None)


PUSHED = Step("aws", "the image is in ECR", _push)
LAUNCH = Step("request", "the launch request", _launch)
RUN = Step("aws", "tasks run", Aws.tasks_run)
PROBE = Step("probe", "the /build stream probes", Aws.probe)
EXIT = Step("aws", "servers exit", Aws.servers_exit)
BUILT = Step("aws", "the build succeeds", lambda aws: aws.builds_end(ok=True))

LIFECYCLES: dict[str, tuple[Step, ...]] = {
    "cached": (PUSHED, LAUNCH, RUN, PROBE, EXIT),
    "uncached": (LAUNCH, BUILT, RUN, PROBE, EXIT),
    "failed build": (LAUNCH, Step("aws", "the build fails", lambda aws: aws.builds_end(ok=False))),
    "two sessions, one build": (LAUNCH, LAUNCH, BUILT, RUN, PROBE, EXIT),
    "spot before ready": (
        PUSHED,
        LAUNCH,
        Step("aws", "Spot takes the starting task", Aws.spot_takes_starting),
        RUN,
        PROBE,
        EXIT,
    ),
    "spot after ready": (
        PUSHED,
        LAUNCH,
        RUN,
        PROBE,
        Step("aws", "Spot warns", Aws.spot_warns),
        Step("aws", "Spot stops the task", Aws.spot_stops),
    ),
    "event session": (
        PUSHED,
        Step("request", "the event is created", _create_event),
        Step("request", "an attendee launches", _attend),
        RUN,
        PROBE,
        EXIT,
    ),
    "failed start": (
        PUSHED,
        LAUNCH,
        Step("aws", "the task fails to start", Aws.tasks_fail_to_start),
    ),
}
