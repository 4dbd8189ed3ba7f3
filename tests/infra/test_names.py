"""The names infra/ and the runtime must agree on, compared side by side."""

from __future__ import annotations

from infra import names as infra
from skybinder.adapters.aws import dynamo_schema
from skybinder.adapters.aws import names as runtime

# Variables the infrastructure sets that the runtime does not read yet; each one is a
# setting the runtime is meant to take (see infra/names.py). Shrinks as the runtime grows.
NOT_YET_READ = {
    "EXECUTION_ROLE_ARN",  # the template task definition carries it too
    "SESSION_LOG_GROUP",  # likewise
    "BANNED_SPECS",  # specs that may not launch
}


def _runtime_variables() -> dict[str, str]:
    return {
        key.removeprefix("ENV_"): value
        for key, value in vars(runtime).items()
        if key.startswith("ENV_") and isinstance(value, str)
    }


def test_table_keys_and_ttl_match() -> None:
    assert (infra.PARTITION_KEY, infra.SORT_KEY) == (runtime.PARTITION_KEY, runtime.SORT_KEY)
    assert infra.TTL_ATTRIBUTE == runtime.TTL_ATTRIBUTE


def test_indexes_match() -> None:
    assert infra.INDEXES == dynamo_schema.INDEXES
    assert (infra.STATUS_INDEX, infra.IMAGE_INDEX, infra.TASK_INDEX) == (
        runtime.STATUS_INDEX,
        runtime.IMAGE_INDEX,
        runtime.TASK_INDEX,
    )
    assert infra.INDEXES[runtime.STATUS_INDEX] == (
        runtime.STATUS_INDEX_PARTITION_KEY,
        runtime.STATUS_INDEX_SORT_KEY,
    )
    assert infra.INDEXES[runtime.TASK_INDEX][0] == runtime.TASK_INDEX_PARTITION_KEY


def test_attribute_types_match() -> None:
    assert infra.ATTRIBUTE_TYPES == dynamo_schema.ATTRIBUTE_TYPES


def test_build_inputs_and_session_conventions_match() -> None:
    for name in (
        "BUILD_REPO_URL",
        "BUILD_REF",
        "BUILD_IMAGE_NAME",
        "BUILD_IMAGE_KEY",
        "SESSION_CONTAINER",
        "SESSION_PORT",
        "TASK_GROUP_PREFIX",
    ):
        assert getattr(infra, name) == getattr(runtime, name), name


def test_every_variable_the_runtime_reads_is_set_with_the_same_name() -> None:
    ours = infra.Env.all()
    for key, value in _runtime_variables().items():
        assert ours.get(key) == value, f"runtime ENV_{key} = {value!r}, infra has {ours.get(key)!r}"


def test_every_variable_infra_sets_is_read_or_listed_as_pending() -> None:
    unread = set(infra.Env.all()) - set(_runtime_variables())
    assert unread <= NOT_YET_READ, f"set but not read by the runtime: {unread - NOT_YET_READ}"
    assert not NOT_YET_READ & set(_runtime_variables()), "now read: drop them from NOT_YET_READ"


def test_the_metrics_the_dashboard_shows_are_the_ones_the_functions_emit() -> None:
    assert infra.METRIC_NAMESPACE == runtime.METRIC_NAMESPACE
    shown = (
        "METRIC_LAUNCHES", "METRIC_BUILDS", "METRIC_LAUNCH_TIME", "METRIC_ACTIVE_SESSIONS",
        "METRIC_FAILURES", "METRIC_COST",
    )  # fmt: skip
    for name in shown:
        assert getattr(infra, name) == getattr(runtime, name), name


def test_the_deployment_prices_are_the_cost_models_defaults() -> None:
    from infra.config import DEFAULT_PRICES
    from skybinder.adapters.aws.settings import PRICE_KEYS
    from skybinder.domain.pricing import Prices

    defaults = Prices()
    for key, field_name in PRICE_KEYS.items():
        assert DEFAULT_PRICES[key] == getattr(defaults, field_name), key


def test_shared_image_tags_start_with_the_prefix_the_lifecycle_policy_keeps() -> None:
    from skybinder.adapters.aws.ecr_registry import image_tag
    from skybinder.domain.naming import env_image_name

    assert infra.SHARED_IMAGE_TAG_PREFIX == runtime.SHARED_IMAGE_TAG_PREFIX
    tag = image_tag(env_image_name("skybinder-", "0123456789abcdef" * 2 + "01234567"))
    assert tag.startswith(runtime.SHARED_IMAGE_TAG_PREFIX)
    assert not image_tag("skybinder-gh-u-r:" + "a" * 40).startswith(infra.SHARED_IMAGE_TAG_PREFIX)
