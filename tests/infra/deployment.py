"""A deployment as the mocks saw it: every resource, its inputs and parent, and the outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

COMPONENT_PREFIX = "skybinder:infra:"
# How Pulumi marks a secret value on the wire (the provider makes some inputs secret).
SECRET_SIGNATURE = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


@dataclass
class Resource:
    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)  # URNs it was told to wait for

    @property
    def id(self) -> str:
        return f"{self.name}-id"  # what the mocks return as the physical id

    @property
    def parent_type(self) -> str:
        return self.parent.split("::")[2].split("$")[-1] if self.parent else ""


class Deployment:
    def __init__(self, data: dict[str, Any]):
        self.resources = [Resource(**_reveal(entry)) for entry in data["resources"]]
        self.outputs: dict[str, Any] = data["outputs"]

    def of_type(self, suffix: str) -> list[Resource]:
        """Resources whose type token ends with `suffix`, e.g. "iam/role:Role"."""
        return [r for r in self.resources if r.type.endswith(suffix)]

    def one(self, suffix: str) -> Resource:
        found = self.of_type(suffix)
        assert len(found) == 1, f"expected one {suffix}, found {[r.name for r in found]}"
        return found[0]

    def named(self, suffix: str, name: str) -> Resource:
        return next(r for r in self.of_type(suffix) if r.name == name)

    def by_id(self, physical_id: str) -> Resource:
        return next(r for r in self.resources if r.id == physical_id)

    @property
    def components(self) -> list[Resource]:
        return [r for r in self.resources if r.type.startswith(COMPONENT_PREFIX)]

    def statements(self) -> Iterator[tuple[Resource, dict[str, Any]]]:
        """Every IAM statement in any input of any resource (policies are JSON strings)."""
        for resource in self.resources:
            for text in _strings(resource.inputs):
                if '"Statement"' not in text:
                    continue
                document = json.loads(text)
                statements = document["Statement"]
                for statement in statements if isinstance(statements, list) else [statements]:
                    yield resource, statement

    def function(self, role: str) -> Resource:
        return next(
            r for r in self.of_type("lambda/function:Function") if r.name.endswith(f"-{role}")
        )

    def variables(self, role: str) -> dict[str, str]:
        """The environment variables of function `role` (launch, build or reap)."""
        return dict(self.function(role).inputs["environment"]["variables"])

    def by_urn(self, urn: str) -> Resource:
        return next(r for r in self.resources if r.urn == urn)

    def parameter(self, name: str) -> Resource:
        """The SSM parameter called `name`."""
        return next(r for r in self.of_type("ssm/parameter:Parameter") if r.inputs["name"] == name)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _reveal(value: Any) -> Any:
    """The value with Pulumi's secret wrappers replaced by what they wrap."""
    if isinstance(value, dict):
        if value.get(SECRET_SIGNATURE[0]) == SECRET_SIGNATURE[1]:
            return _reveal(value["value"])
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_reveal(item) for item in value]
    return value
