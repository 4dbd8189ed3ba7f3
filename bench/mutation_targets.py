"""What the mutation benchmark mutates, and which tests each module's mutants run against.

One line per module: its path, the pytest arguments that select the fast tests covering it
(its unit, contract and moto tests, never the end-to-end or browser suites), and optionally
only some of its functions ("Class.method" for a method) and a `-k` keyword that keeps the
contract suites to the store under test. Adding a module is adding its line here.
"""

from __future__ import annotations

from dataclasses import dataclass

GOAL = 0.90  # the share of mutants killed in every module


@dataclass(frozen=True)
class Target:
    module: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()
    keyword: str = ""


def under(folder: str, *names: str) -> tuple[str, ...]:
    return tuple(f"tests/{folder}/test_{name}.py" for name in names)


CONTRACT_SESSIONS = under("contract", "session_store")
CONTRACT_EVENTS = under("contract", "event_store")


PRICING = under("unit", "pricing", "event_admission")
EVENTS = (*PRICING, *under("unit", "events_service", "event_deadlines"))
SQLITE_EVENTS = under("contract", "event_store", "sqlite_events", "event_races")
DYNAMO_EVENTS = (*under("aws", "dynamo_events", "dynamo_event_admission"), *CONTRACT_EVENTS)
# The session slots' admission also checks the session proxy is awake (its marks' contract).
DYNAMO_SLOTS = (*under("aws", "dynamo_store", "dynamo_event_admission"), *CONTRACT_SESSIONS,
                *under("contract", "proxy_marks"))  # fmt: skip
GUARD = under("unit", "ssrf_guard", "url_guard_hosts")
SPECS = under("unit", "specs", "spec_rules", "spec_messages")
LIMITS = (*under("unit", "launch_limits"), *under("contract", "rate_limiter"))
SQLITE_LIMITS = (*LIMITS, *under("contract", "sqlite_rate_limit"))
DYNAMO_LIMITS = (*LIMITS, *under("aws", "dynamo_rate_limit", "dynamo_event_admission"))
API_LIMITS = under("unit", "launch_limits") + under("api", "rate_limit")
# The local binder's access token, origin and host rules; event access codes' throttle; build
# tokens. The guard's own tests drive its ASGI callable in the test's thread.
ACCESS_RULES = under("unit", "access_rules")
ACCESS = (*ACCESS_RULES, *under("unit", "access_guard"), *under("api", "local_access"))
ACCESS_CODES = (*under("unit", "access_codes"), *under("api", "access_codes"))
BUILD_TOKENS = (*under("unit", "tokens_and_resume"), *under("api", "rate_limit"))
RESUME = (*under("unit", "tokens_and_resume"), *under("api", "pages"))
# The functions of the DynamoDB store's admission and settlement (the rest is plumbing).
DYNAMO_ADMISSION = ("holding", "joining", "moving", "_counters_op", "refused_by_event",
                    "DynamoEventStore.event_usage", "DynamoEventStore._event_refusal")  # fmt: skip
DYNAMO_COUNTING = ("counted", "deltas", "change", "admission", "refusal", "_below")
RESULTS = tuple(f"RateLimitResult.{f}" for f in ("of", "unlimited", "check_arguments", "headers"))
# The contract suites' DynamoDB cases, without the races of threads on moto (tens of seconds a
# run; what they check is checked one step at a time by the tests of each store).
DYNAMO = "not fake and not sqlite and not racing"
SQLITE = "not fake and not dynamo"

TARGETS: tuple[Target, ...] = (
    Target("skybinder/domain/pricing.py", PRICING),
    Target("skybinder/domain/event_admission.py", EVENTS),
    Target("skybinder/adapters/local/sqlite_events.py", SQLITE_EVENTS, ("admit", "usage"), SQLITE),
    Target("skybinder/adapters/aws/dynamo_events.py", DYNAMO_EVENTS, DYNAMO_ADMISSION, DYNAMO),
    Target("skybinder/adapters/aws/dynamo_counters.py", DYNAMO_SLOTS, DYNAMO_COUNTING, DYNAMO),
    Target("skybinder/adapters/providers/guard.py", GUARD),
    Target("skybinder/domain/addresses.py", GUARD),
    Target("skybinder/domain/specs.py", SPECS),
    Target("skybinder/domain/spec_rules.py", SPECS),
    Target("skybinder/adapters/local/sqlite_rate_limit.py", SQLITE_LIMITS, keyword=SQLITE),
    Target("skybinder/adapters/aws/dynamo_rate_limit.py", DYNAMO_LIMITS, keyword=DYNAMO),
    Target("skybinder/service/ports.py", LIMITS, RESULTS, "fake or launch_limits"),
    Target("skybinder/api/limits.py", API_LIMITS),
    Target("skybinder/api/access_rules.py", ACCESS_RULES),
    Target("skybinder/api/access.py", ACCESS),
    Target("skybinder/service/access_codes.py", ACCESS_CODES, keyword="not dynamo"),
    Target("skybinder/api/tokens.py", BUILD_TOKENS),
    Target("skybinder/service/resume.py", RESUME, keyword="resume"),
    Target("skybinder/api/origin.py", under("api", "origin")),
    Target("skybinder/api/admin.py", under("api", "admin"), ("bearer_auth", "iam_auth")),
)
