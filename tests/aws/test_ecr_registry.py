"""EcrRegistry on moto, and the tags that name images in one repository."""

from __future__ import annotations

import re

import pytest

from skybinder.adapters.aws.ecr_registry import EcrRegistry, image_tag
from tests.aws.compute_fixtures import IMAGE, REPOSITORY, Cloud


def test_tags_are_valid_ecr_tags_and_keep_names_apart() -> None:
    names = [
        IMAGE,
        "skybinder-gh-a-b:" + "f" * 40,
        "skybinder-gh-a--b:" + "f" * 40,  # cleans to what the next one cleans to
        "skybinder-gh-a:-b-" + "f" * 40,
        "skybinder-" + "x" * 300 + ":1",  # too long: cut, kept apart by the digest
        "skybinder-" + "x" * 300 + ":2",
    ]
    tags = [image_tag(name) for name in names]
    assert len(set(tags)) == len(names)
    for tag in tags:
        assert len(tag) <= 128 and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", tag)
    assert image_tag(IMAGE) == image_tag(IMAGE)
    assert image_tag(IMAGE).startswith("skybinder-gh-binder-examples-requirements--b8259dac")


def test_an_image_is_there_once_pushed(cloud: Cloud) -> None:
    registry = cloud.binder.registry
    assert not registry.has(IMAGE)
    cloud.push_image(IMAGE)
    assert registry.has(IMAGE)
    assert not registry.has(IMAGE.replace("b8259", "00000"))


def test_a_missing_repository_is_an_error_not_a_missing_image(cloud: Cloud) -> None:
    uri = cloud.deployment.repository_uri.replace(REPOSITORY, "deleted")
    registry = EcrRegistry(cloud.ecr, uri)
    with pytest.raises(Exception, match="RepositoryNotFound"):
        registry.has(IMAGE)


def test_a_repository_uri_is_required() -> None:
    with pytest.raises(ValueError, match="is not an ECR repository URI"):
        EcrRegistry(None, "skybinder-images")  # type: ignore[arg-type]
