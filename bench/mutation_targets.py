"""What the mutation benchmark mutates, and which tests each module's mutants run against.

One line per module: its path, the pytest arguments that select the tests covering it (fast
ones: the unit, contract and moto tests of that module, not the end-to-end suites), and
optionally only some of its functions ("Class.method" for a method) or a `-k` keyword.
"""

from __future__ import annotations

from dataclasses import dataclass

GOAL = 0.90  # share of mutants killed in every module


@dataclass(frozen=True)
class Target:
    module: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()
    keyword: str = ""


SQLITE_EVENTS = (
    "tests/contract/test_event_store.py",
    "tests/contract/test_sqlite_events.py",
    "tests/contract/test_event_races.py",
)
DYNAMO_EVENTS = (
    "tests/aws/test_dynamo_events.py",
    "tests/aws/test_dynamo_event_counters.py",
    "tests/contract/test_event_store.py",
    "tests/contract/test_event_races.py",
)
SPECS = ("tests/unit/test_specs.py",)
GUARD = ("tests/unit/test_ssrf_guard.py",)

TARGETS: tuple[Target, ...] = (
    Target("skybinder/domain/pricing.py", ("tests/unit/test_pricing.py",)),
    Target(
        "skybinder/domain/event_admission.py",
        ("tests/unit/test_pricing.py", "tests/unit/test_events_service.py"),
    ),
    Target(
        "skybinder/adapters/local/sqlite_events.py",
        SQLITE_EVENTS,
        ("admit", "usage"),
        keyword="sqlite",
    ),
    Target(
        "skybinder/adapters/aws/dynamo_events.py",
        DYNAMO_EVENTS,
        (
            "holding",
            "joining",
            "moving",
            "_counters_op",
            "refused_by_event",
            "DynamoEventStore.event_usage",
            "DynamoEventStore._event_refusal",
        ),
        keyword="not fake and not sqlite",
    ),
    Target(
        "skybinder/adapters/aws/dynamo_counters.py",
        ("tests/aws/test_dynamo_store.py", "tests/contract/test_session_store.py"),
        ("counted", "deltas", "change", "admission", "refusal", "_below"),
        keyword="not fake and not sqlite",
    ),
    Target("skybinder/adapters/providers/guard.py", GUARD),
    Target("skybinder/domain/addresses.py", GUARD),
    Target("skybinder/domain/specs.py", SPECS),
    Target("skybinder/domain/spec_rules.py", SPECS),
    Target(
        "skybinder/adapters/local/sqlite_rate_limit.py",
        ("tests/contract/test_rate_limiter.py",),
        keyword="not fake and not dynamo",
    ),
    Target(
        "skybinder/adapters/aws/dynamo_rate_limit.py",
        ("tests/aws/test_dynamo_rate_limit.py", "tests/contract/test_rate_limiter.py"),
        keyword="not fake and not sqlite",
    ),
    Target(
        "skybinder/service/ports.py",
        ("tests/contract/test_rate_limiter.py", "tests/api/test_rate_limit.py"),
        (
            "RateLimitResult.of",
            "RateLimitResult.unlimited",
            "RateLimitResult.check_arguments",
            "RateLimitResult.headers",
        ),
    ),
    Target("skybinder/api/limits.py", ("tests/api/test_rate_limit.py",)),
)
