"""AWS's quotas and throttles that moto lacks, as doubles that answer as AWS does.

Each double hooks the `before-call` of an operation on one or more clients (the functions'
clients of a Cloud: whichever function calls, the account's limit is the same) and, when the
limit is reached, answers with the error AWS gives after botocore's own retries, without
reaching moto:

- `Throttle`: a token bucket (AWS's throttles are token buckets per account and region), e.g.
  ECS RunTask's 20 calls a second with a burst of 100 -> ThrottlingException;
- `BuilderLimit`: CodeBuild's concurrent builds -> AccountLimitExceededException from
  StartBuild ("Cannot have more than N builds in queue for the account"), counting a build
  from its StartBuild until the test sends its end (Cloud.send_build);
- `SharedFailures`: the next N calls of an operation fail, whichever client makes them;
- `ScalableRange`: what moto leaves out of Application Auto Scaling: RegisterScalableTarget on
  an ECS service moves the service's desired count into the range it is given, as AWS
  documents ("If you call RegisterScalableTarget to update an existing scalable target,
  Application Auto Scaling retrieves the current capacity of the resource... and adjusts [it]
  to place it within these bounds").

The Lambda environment's 4 KB is checked on the rendered program
(tests/infra/test_deployability.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from botocore.awsrequest import AWSResponse

Clock = Callable[[], float]
# What AWS answers each throttled service with (after botocore's retries, the caller sees it).
THROTTLED = {"ecs": "ThrottlingException", "codebuild": "ThrottlingException"}
THROTTLED_STATUS = 400


def error_answer(code: str, message: str, status: int = 400) -> tuple[AWSResponse, dict[str, Any]]:
    """What a before-call hook returns to make botocore raise ClientError `code`."""
    response = AWSResponse(url="https://aws.invalid", status_code=status, headers={}, raw=None)
    return response, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}}


def _register(clients: Iterable[Any], operation: str, hook: Callable[..., Any]) -> None:
    for aws_client in clients:
        service = aws_client.meta.service_model.service_id.hyphenize()
        aws_client.meta.events.register(f"before-call.{service}.{operation}", hook)


class Throttle:
    """A token bucket of `burst` tokens refilled at `rate` a second on `clock`: a call with no
    token left fails with the service's throttling error. ECS RunTask: 20/s, burst 100."""

    def __init__(self, clock: Clock, rate: float = 20.0, burst: int = 100) -> None:
        self.clock = clock
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.at = clock()
        self.throttled = 0
        self._lock = threading.Lock()

    def install(self, clients: Iterable[Any], operation: str) -> Throttle:
        _register(clients, operation, self._hook(operation))
        return self

    def _hook(self, operation: str) -> Callable[..., Any]:
        def take(model: Any, **_: Any) -> Any:
            with self._lock:
                now = self.clock()
                self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
                self.at = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return None
                self.throttled += 1
            code = THROTTLED.get(model.service_model.service_name, "Throttling")
            return error_answer(code, "Rate exceeded", THROTTLED_STATUS)

        return take


class BuilderLimit:
    """CodeBuild's limit of concurrent builds: StartBuild is refused while `limit` builds run.
    A build runs from its StartBuild until `ended(build_id)` (the test sends its end)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running: set[str] = set()
        self.refused = 0
        self._lock = threading.Lock()

    def install(self, clients: Iterable[Any]) -> BuilderLimit:
        _register(clients, "StartBuild", self._before)
        for aws_client in clients:
            aws_client.meta.events.register("after-call.codebuild.StartBuild", self._after)
        return self

    def _before(self, **_: Any) -> Any:
        with self._lock:
            if len(self.running) < self.limit:
                return None
            self.refused += 1
        message = f"Cannot have more than {self.limit} builds in queue for the account"
        return error_answer("AccountLimitExceededException", message)

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        build = parsed.get("build")
        if build:
            with self._lock:
                self.running.add(str(build["id"]))

    def ended(self, build_id: str) -> None:
        with self._lock:
            self.running.discard(build_id)


class SharedFailures:
    """The next `times` calls of `operation` fail with `code`, whichever client makes them."""

    def __init__(self, code: str, times: int = 1, **extra: Any) -> None:
        self.code = code
        self.left = times
        self.extra = extra
        self._lock = threading.Lock()

    def install(self, clients: Iterable[Any], operation: str) -> SharedFailures:
        _register(clients, operation, self._hook)
        return self

    def _hook(self, **_: Any) -> Any:
        with self._lock:
            if self.left <= 0:
                return None
            self.left -= 1
        response, body = error_answer(self.code, f"{self.code} (injected by the test)")
        return response, {**body, **self.extra}


class ScalableRange:
    """After a RegisterScalableTarget of an ECS service, its desired count is put inside the
    new range through `ecs` (the operator's client), as Application Auto Scaling does."""

    def __init__(self, ecs: Any) -> None:
        self.ecs = ecs
        self.changes: list[tuple[str, int]] = []  # (resource id, the count it was set to)

    def install(self, clients: Iterable[Any]) -> ScalableRange:
        operation = "application-autoscaling.RegisterScalableTarget"
        for aws_client in clients:
            events = aws_client.meta.events
            events.register(f"before-parameter-build.{operation}", self._keep)
            events.register(f"after-call.{operation}", self._after)
        return self

    @staticmethod
    def _keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["scalable_range"] = dict(params)  # what the call asked, for after it

    def _after(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get("scalable_range", {})
        if http_response.status_code != 200 or params.get("ServiceNamespace") != "ecs":
            return
        _, cluster, service = str(params["ResourceId"]).split("/")
        (found,) = self.ecs.describe_services(cluster=cluster, services=[service])["services"]
        count = int(found["desiredCount"])
        low = int(params.get("MinCapacity", count))
        high = int(params.get("MaxCapacity", count))
        clamped = min(max(count, low), high)
        if clamped != count:
            self.ecs.update_service(cluster=cluster, service=service, desiredCount=clamped)
            self.changes.append((str(params["ResourceId"]), clamped))
