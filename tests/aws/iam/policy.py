"""IAM's evaluation of identity-based policies, for the policies the Pulumi program renders.

The rules (AWS's "Policy evaluation logic"): an explicit Deny in any matching statement wins;
otherwise an Allow whose Action, Resource and Condition all match allows; otherwise the request
is denied implicitly.

- Action / NotAction: `service:Name` patterns with `*` and `?`, compared without case.
- Resource / NotResource: `*`, or ARN patterns compared with case; the first five of an ARN's
  six colon-separated parts are matched part by part, the sixth (the resource, which may hold
  colons itself, as `log-group:name:log-stream:s` does) as a whole.
- Condition: every operator must hold, every key under it must hold, and a key holds when any
  of its values matches (OR). Operators: String*, Arn*, Bool, Null, Numeric*, with `IfExists`
  and the `ForAnyValue:` / `ForAllValues:` set operators. A key missing from the request fails
  a positive operator and passes a negated one (StringNotEquals...), as in AWS.

Anything else (an operator not listed, a policy variable) raises PolicyError: the evaluator
never guesses in a policy's favour.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Context = Mapping[str, str | Sequence[str]]


class PolicyError(ValueError):
    """A policy uses something this evaluator does not implement."""


@dataclass(frozen=True)
class Request:
    """One authorization AWS makes for a call: an action on a resource, in a context."""

    action: str
    resource: str
    context: Context = field(default_factory=dict)

    def __str__(self) -> str:
        extra = f" with {dict(self.context)}" if self.context else ""
        return f"{self.action} on {self.resource}{extra}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # which statement decided, or why none did


def evaluate(documents: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """IAM's answer to `request` under the identity policies `documents`."""
    allowed_by = ""
    for number, document in enumerate(documents):
        for index, statement in enumerate(_statements(document)):
            if not _applies(statement, request):
                continue
            label = statement.get("Sid") or f"policy {number} statement {index}"
            if statement["Effect"] == "Deny":
                return Decision(False, f"explicitly denied by {label}")
            allowed_by = allowed_by or label
    if allowed_by:
        return Decision(True, f"allowed by {allowed_by}")
    return Decision(False, "no statement allows it")


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(f"a statement's Effect is {statement.get('Effect')!r}")
    if "Action" in statement:
        if not any(_action(p, request.action) for p in _list(statement["Action"])):
            return False
    elif any(_action(p, request.action) for p in _list(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(arn_like(p, request.resource) for p in _list(statement["Resource"])):
            return False
    elif any(arn_like(p, request.resource) for p in _list(statement.get("NotResource", []))):
        return False
    return all(
        _condition(operator, keys, request.context)
        for operator, keys in statement.get("Condition", {}).items()
    )


def _list(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    for item in values:
        if not isinstance(item, str):
            raise PolicyError(f"expected strings, found {item!r}")
        if "${" in item:
            raise PolicyError(f"policy variables are not supported: {item}")
    return values


def wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's `*` (any characters) and `?` (one character); nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def _action(pattern: str, action: str) -> bool:
    return wildcard(pattern, action, ignore_case=True)


def arn_like(pattern: str, arn: str) -> bool:
    """A Resource pattern (or ArnLike value) against an ARN."""
    if pattern == "*":
        return True
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return wildcard(pattern, arn)
    return all(wildcard(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


# operator -> (test of one policy value against one request value, negated?)
_STRING = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (wildcard, False),
    "StringNotLike": (wildcard, True),
    "ArnEquals": (arn_like, False),
    "ArnLike": (arn_like, False),
    "ArnNotEquals": (arn_like, True),
    "ArnNotLike": (arn_like, True),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
    "NumericEquals": (lambda p, v: float(v) == float(p), False),
    "NumericNotEquals": (lambda p, v: float(v) == float(p), True),
    "NumericLessThan": (lambda p, v: float(v) < float(p), False),
    "NumericLessThanEquals": (lambda p, v: float(v) <= float(p), False),
    "NumericGreaterThan": (lambda p, v: float(v) > float(p), False),
    "NumericGreaterThanEquals": (lambda p, v: float(v) >= float(p), False),
}


def _condition(operator: str, keys: Mapping[str, Any], context: Context) -> bool:
    found = {key.lower(): value for key, value in context.items()}
    return all(
        _key_holds(operator, key, _list(expected), found.get(key.lower()))
        for key, expected in keys.items()
    )


def _key_holds(
    operator: str, key: str, expected: list[str], given: str | Sequence[str] | None
) -> bool:
    set_operator, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    if name == "Null":
        return (given is None) == (expected[0].lower() == "true")
    if name not in _STRING:
        raise PolicyError(f"the condition operator {operator} is not supported")
    if set_operator not in ("", "ForAnyValue", "ForAllValues"):
        raise PolicyError(f"the set operator {set_operator} is not supported")
    test, negated = _STRING[name]
    if given is None:
        return if_exists or negated or set_operator == "ForAllValues"
    values = [given] if isinstance(given, str) else list(given)

    def matches(value: str) -> bool:
        hit = any(test(pattern, value) for pattern in expected)
        return not hit if negated else hit

    if set_operator == "ForAllValues":
        return all(matches(value) for value in values)
    return any(matches(value) for value in values)
