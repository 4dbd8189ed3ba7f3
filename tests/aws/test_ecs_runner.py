"""EcsRunner and its task definitions on moto: a copy of the session template per image
(never a task role), RunTask's failures, stops and the tasks it holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from skybinder.adapters.aws.ecr_registry import image_tag
from skybinder.adapters.aws.ecs_runner import SURVEY_TTL, EcsRunner
from skybinder.adapters.aws.ecs_task_definitions import TaskDefinitions, family_name
from skybinder.domain.errors import LaunchError
from skybinder.service.ports import LaunchRequest
from tests.aws.compute_fixtures import ACCOUNT, CLUSTER, FAMILY_PREFIX, IMAGE, TEMPLATE, Cloud
from tests.aws.conftest import ApiCalls, fail_calls

SESSION = "9a8b7c6d5e4f3a2b"


def request(**fields: Any) -> LaunchRequest:
    values: dict[str, Any] = {
        "session_id": SESSION,
        "image_name": IMAGE,
        "base_url": f"/s/{SESSION}/",
        "token": "secret-token",
        "env": {"BINDER_REQUEST": "v2/gh/binder-examples/requirements/HEAD"},
    }
    return LaunchRequest(**{**values, **fields})


def answer_run_task(aws_client: Any, failures: list[dict[str, str]]) -> None:
    """RunTask's next answer: no task, these failures (as AWS reports what it cannot start)."""
    left = [1]

    def hook(**_: Any) -> Any:
        if not left[0]:
            return None
        left[0] -= 1
        response = AWSResponse("https://ecs.invalid", status_code=200, headers={}, raw=None)
        return response, {"tasks": [], "failures": failures, "ResponseMetadata": {}}

    aws_client.meta.events.register("before-call.ecs.RunTask", hook)


def test_an_image_gets_a_copy_of_the_session_template_with_its_image(cloud: Cloud) -> None:
    arn = cloud.binder.runner.prepare(IMAGE)
    definition = cloud.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    template = cloud.ecs.describe_task_definition(taskDefinition=TEMPLATE)["taskDefinition"]
    assert definition["family"] == family_name(FAMILY_PREFIX, IMAGE)
    (container,) = definition["containerDefinitions"]
    assert container["image"] == f"{cloud.deployment.repository_uri}:{image_tag(IMAGE)}"
    assert container["portMappings"] == template["containerDefinitions"][0]["portMappings"]
    for key in ("cpu", "memory", "networkMode", "executionRoleArn", "requiresCompatibilities"):
        assert definition[key] == template[key]


def test_preparing_again_registers_nothing(cloud: Cloud) -> None:
    first = cloud.binder.runner.prepare(IMAGE)
    calls = ApiCalls(cloud.binder.runner.client)
    assert cloud.binder.runner.prepare(IMAGE) == first
    assert calls.names == ["DescribeTaskDefinition"]


def test_a_task_role_on_the_template_never_reaches_a_session(cloud: Cloud) -> None:
    template = cloud.ecs.describe_task_definition(taskDefinition=TEMPLATE)["taskDefinition"]
    cloud.ecs.register_task_definition(
        family="template-with-role",
        taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/powerful",
        **{k: template[k] for k in ("containerDefinitions", "networkMode", "cpu", "memory")},
    )
    definitions = TaskDefinitions(cloud.ecs, "template-with-role", "t-", lambda name: "img:1")
    arn = definitions.prepare(IMAGE)
    definition = cloud.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    assert not definition.get("taskRoleArn")


def test_a_missing_template_is_a_launch_error_naming_it(cloud: Cloud) -> None:
    definitions = TaskDefinitions(cloud.ecs, "no-such-template", "t-", lambda name: "img:1")
    with pytest.raises(LaunchError, match="The session task definition no-such-template does"):
        definitions.prepare(IMAGE)


def test_a_prepared_task_definition_is_used_as_given(cloud: Cloud) -> None:
    arn = cloud.binder.runner.prepare(IMAGE)
    calls = ApiCalls(cloud.binder.runner.client)
    task = cloud.binder.runner.start(request(task_definition=arn))
    assert calls.names == ["RunTask"]
    (described,) = cloud.ecs.describe_tasks(cluster=CLUSTER, tasks=[task])["tasks"]
    assert described["taskDefinitionArn"] == arn
    assert (described["startedBy"], described["group"]) == (SESSION, f"skybinder:{SESSION}")


def test_a_failure_other_than_capacity_is_not_retried_on_demand(cloud: Cloud) -> None:
    runner = cloud.binder.runner
    answer_run_task(runner.client, [{"arn": "", "reason": "RESOURCE:ENI"}])
    calls = ApiCalls(runner.client)
    with pytest.raises(LaunchError, match="AWS Fargate refused to start it"):
        runner.start(request(task_definition=runner.prepare(IMAGE)))
    assert calls.names.count("RunTask") == 1


def test_the_token_travels_in_the_environment_never_on_the_command_line(cloud: Cloud) -> None:
    runner = cloud.binder.runner
    runner.start(request(task_definition=runner.prepare(IMAGE)))
    (run,) = cloud.run_tasks
    (override,) = run["overrides"]["containerOverrides"]
    assert "secret-token" not in json.dumps(override["command"])
    assert {"name": "JUPYTER_TOKEN", "value": "secret-token"} in override["environment"]


def test_stopping_is_idempotent_and_ends_what_is_alive(cloud: Cloud) -> None:
    runner = cloud.binder.runner
    task = runner.start(request())
    assert runner.is_alive(task)
    runner.stop(task)
    runner.stop(task)
    assert not runner.is_alive(task)
    unknown = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/{CLUSTER}/00000000000000000000000000000000"
    assert not runner.is_alive(unknown)
    fail_calls(runner.client, "StopTask", "InvalidParameterException")  # AWS: no such task
    runner.stop(unknown)


def test_held_lists_this_binders_tasks_only(cloud: Cloud) -> None:
    runner = cloud.function("reap").runner  # the orphan sweep's: only the reaper lists tasks
    ours = runner.start(request())
    template = cloud.ecs.describe_task_definition(taskDefinition=TEMPLATE)["taskDefinition"]
    network = cloud.run_tasks[0]["networkConfiguration"]
    cloud.ecs.run_task(
        cluster=CLUSTER,
        taskDefinition=template["taskDefinitionArn"],
        networkConfiguration=network,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        group="family:someone-elses",
    )
    assert runner.held() == {ours: SESSION}
    runner.release(ours)
    assert runner.held() == {}


def test_a_stopped_tasks_reason_is_read_back_in_the_words_of_task_events(cloud: Cloud) -> None:
    runner = cloud.binder.runner
    task = runner.start(request())
    assert runner.stop_reason(task) == ""  # still running: nothing to say
    cloud.ecs.stop_task(cluster=CLUSTER, task=task, reason="Scaling activity")
    # moto keeps no stop code; the reason ECS gave is what remains, as for UserInitiated.
    assert runner.stop_reason(task) == "Scaling activity"


def test_event_sessions_run_at_their_own_size_and_idle_timeout(cloud: Cloud) -> None:
    runner = cloud.binder.runner
    runner.start(request(cpu=2, memory_gb=8, idle_timeout=1800))
    (run,) = cloud.run_tasks
    assert (run["overrides"]["cpu"], run["overrides"]["memory"]) == ("2048", "8192")
    (override,) = run["overrides"]["containerOverrides"]
    assert override["memory"] == 8192  # the container's hard limit follows the task's size
    assert "--ServerApp.shutdown_no_activity_timeout=1800" in override["command"]


def test_a_relaunch_asks_with_a_new_idempotency_token(cloud: Cloud) -> None:
    runner = cloud.binder.runner
    runner.start(request())
    runner.start(request(attempt=1))
    first, second = (run["clientToken"] for run in cloud.run_tasks)
    # ECS answers a repeated token with the first task (stopped by then) for 24 hours.
    assert first != second and first.startswith(SESSION) and second.startswith(SESSION)


def test_a_survey_reads_a_hundred_tasks_a_call_and_answers_the_reapers_pass(
    cloud: Cloud,
) -> None:
    """The reaper's look at 2,000 sessions' tasks: DescribeTasks takes 100 tasks a call and ECS
    reads are throttled at 20 a second (burst 100), so a call a task would outlast its pass."""
    cloud.throttle("ecs", "RunTask", rate=20, burst=100)
    cloud.throttle("ecs", "DescribeTasks", rate=20, burst=100)
    starter = cloud.binder.runner
    tasks = []
    for i in range(130):
        tasks.append(starter.start(request(session_id=f"{i:016x}", base_url=f"/s/{i:016x}/")))
        cloud.clock.sleep(0.05)  # RunTask's 20 a second
    cloud.ecs.stop_task(cluster=CLUSTER, task=tasks[7], reason="Scaling activity")
    gone = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/{CLUSTER}/00000000000000000000000000000000"
    now = [0.0]
    reaper = cloud.function("reap").runner
    runner = EcsRunner(reaper.client, reaper.settings, reaper.definitions, lambda: now[0])
    calls = ApiCalls(runner.client)

    runner.survey([*tasks, gone])
    assert calls.names == ["DescribeTasks", "DescribeTasks"]  # 131 tasks: 100, then 31
    assert [runner.is_alive(t) for t in tasks] == [i != 7 for i in range(130)]
    assert runner.stop_reason(tasks[7]) == "Scaling activity"
    assert not runner.is_alive(gone)
    assert calls.names == ["DescribeTasks", "DescribeTasks"]  # the pass asked ECS nothing more

    runner.stop(tasks[0])  # what the pass changes, it asks ECS about again
    cloud.task_stops(tasks[0])
    assert not runner.is_alive(tasks[0]) and calls.names.count("DescribeTasks") == 3
    cloud.ecs.stop_task(cluster=CLUSTER, task=tasks[1], reason="Scaling activity")
    now[0] += SURVEY_TTL  # the survey answers for a pass, never for the next
    assert not runner.is_alive(tasks[1]) and calls.names.count("DescribeTasks") == 4
    assert not cloud.guard.problems
