"""One source of truth for the names both sides use: infra/ imports the runtime's names module
(and nothing else of the package), and the runtime reads every variable the functions get."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from skybinder.adapters.aws import names
from tests.infra.deployment import Deployment

ROOT = Path(__file__).resolve().parents[2]
NAMES_MODULE = "skybinder.adapters.aws.names"
# Variables the functions get that are not skybinder's own settings.
PLATFORM = re.compile(r"(AWS_|POWERTOOLS_|PYTHONPATH$)")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def test_infra_imports_only_the_names_module_from_the_package() -> None:
    for path in sorted((ROOT / "infra").glob("*.py")):
        ours = {m for m in _imports(path) if m.split(".")[0] == "skybinder"}
        allowed = {"skybinder.adapters.aws", NAMES_MODULE} | {
            f"{NAMES_MODULE}.{name}" for name in dir(names)
        }
        assert ours <= allowed, f"{path.name} imports {sorted(ours - allowed)}"


def test_the_names_module_needs_nothing_but_the_standard_library() -> None:
    """So that the Pulumi program loads no boto3, pydantic or service code with it."""
    code = (
        "import sys; import skybinder.adapters.aws.names; "
        "heavy = {'boto3', 'botocore', 'pydantic', 'fastapi', 'httpx'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_variable_the_functions_get_is_a_name_the_runtime_reads(
    deployment: Deployment,
) -> None:
    runtime_reads = _read_by_the_runtime()
    for role in ("launch", "build", "reap"):
        ours = {key for key in deployment.variables(role) if not PLATFORM.match(key)}
        assert ours <= runtime_reads, f"{role} gets {sorted(ours - runtime_reads)}, never read"


def test_every_setting_in_the_parameter_is_a_name_the_runtime_reads(
    deployment: Deployment,
) -> None:
    import json

    launch = deployment.variables("launch")
    parameter = deployment.parameter(launch[names.ENV_SETTINGS_PARAMETER])
    keys = set(json.loads(parameter.inputs["value"]))
    assert keys and keys <= _read_by_the_runtime()


def _read_by_the_runtime() -> set[str]:
    """Variable names (ENV_* of names.py) that code outside names.py refers to."""
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (ROOT / "skybinder").rglob("*.py")
        if path.name != "names.py"
    )
    return {
        value
        for key, value in vars(names).items()
        if key.startswith("ENV_") and re.search(rf"\b{key}\b", code)
    }


def test_the_metrics_the_dashboard_shows_are_the_ones_the_functions_emit() -> None:
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for path in [*(ROOT / "functions").rglob("*.py"), *(ROOT / "skybinder").rglob("*.py")]
        if path.name != "names.py"
    )
    dashboard = (ROOT / "infra" / "observability.py").read_text(encoding="utf-8")
    shown = set(re.findall(r"names\.(METRIC_[A-Z_]+)", dashboard)) - {"METRIC_NAMESPACE"}
    assert shown
    for metric in shown:
        assert re.search(rf"\b{metric}\b", code), f"{metric} is shown but never emitted"


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

    tag = image_tag(env_image_name("skybinder-", "0123456789abcdef" * 2 + "01234567"))
    assert tag.startswith(names.SHARED_IMAGE_TAG_PREFIX)
    assert not image_tag("skybinder-gh-u-r:" + "a" * 40).startswith(names.SHARED_IMAGE_TAG_PREFIX)
