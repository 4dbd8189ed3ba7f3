"""CloudWatch: a dashboard of launches, builds, launch time, sessions, failures and cost; alarms."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from skybinder.adapters.aws import names

PERIOD = 300


@dataclass
class ObservabilityArgs:
    unique: str  # dashboard names are unique per account
    region: str
    function_names: Sequence[pulumi.Input[str]]
    alarm_email: str = ""


class Observability(pulumi.ComponentResource):
    """What an operator looks at; an alarm (optionally e-mailed) when a function fails."""

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("skybinder:infra:Observability", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(f"{name}-alarms", opts=child)
        if args.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=child,
            )
        functions = pulumi.Output.all(*args.function_names)
        aws.cloudwatch.MetricAlarm(
            f"{name}-function-errors",
            alarm_description="A skybinder function failed: see its log group for the error.",
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            metric_queries=functions.apply(_error_queries),
            alarm_actions=[self.topic.arn],
            opts=child,
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{args.unique}-{args.region}",
            dashboard_body=functions.apply(lambda fns: json.dumps(dashboard(args.region, fns))),
            opts=child,
        )
        self.register_outputs({"dashboard": self.dashboard.dashboard_name})


def _error_queries(functions: Sequence[str]) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict]:
    queries: list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict] = [
        {
            "id": f"e{index}",
            "return_data": False,
            "metric": {
                "namespace": "AWS/Lambda",
                "metric_name": "Errors",
                "dimensions": {"FunctionName": function},
                "period": PERIOD,
                "stat": "Sum",
            },
        }
        for index, function in enumerate(functions)
    ]
    total = " + ".join(f"e{index}" for index in range(len(functions)))
    queries.append(
        {"id": "errors", "expression": total, "label": "Function errors", "return_data": True}
    )
    return queries


def dashboard(region: str, functions: Sequence[str]) -> dict[str, object]:
    def app(title: str, metric: str, stat: str = "Sum") -> dict[str, object]:
        # Whichever function emits it (powertools adds a `service` dimension), summed.
        search = (
            f"SEARCH('{{{names.METRIC_NAMESPACE},service}} MetricName=\"{metric}\"', "
            f"'{stat}', {PERIOD})"
        )
        combine = "MAX" if stat == "Maximum" else "SUM" if stat == "Sum" else "AVG"
        return _widget(
            title, region, [[{"expression": f"{combine}({search})", "label": title}]], stat
        )

    widgets = [
        app("Launches", names.METRIC_LAUNCHES),
        app("Builds", names.METRIC_BUILDS),
        app("Launch time (ms, p50)", names.METRIC_LAUNCH_TIME, "p50"),
        app("Active sessions", names.METRIC_ACTIVE_SESSIONS, "Maximum"),
        app("Failures", names.METRIC_FAILURES),
        app("Session cost (USD)", names.METRIC_COST),
        _widget(
            "Function errors",
            region,
            [["AWS/Lambda", "Errors", "FunctionName", function] for function in functions],
            "Sum",
        ),
    ]
    for index, widget in enumerate(widgets):
        widget.update({"x": (index % 3) * 8, "y": (index // 3) * 6, "width": 8, "height": 6})
    return {"widgets": widgets}


def _widget(title: str, region: str, metrics: list[list[object]], stat: str) -> dict[str, object]:
    return {
        "type": "metric",
        "properties": {
            "title": title,
            "region": region,
            "metrics": metrics,
            "stat": stat,
            "period": PERIOD,
            "view": "timeSeries",
        },
    }
