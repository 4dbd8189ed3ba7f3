"""The fault-injection suite (tests/aws/faults/): every lifecycle, every fault, on moto.

The scenarios run once per test session, spread over the machine's cores; each test below
holds one lifecycle to one kind of fault. `python -m bench.faults` runs the same scenarios
and prints each one's outcome.
"""

from __future__ import annotations

import pytest

from tests.aws.faults.lifecycles import LIFECYCLES
from tests.aws.faults.suite import KINDS, Verdict, by_kind, run_all


@pytest.fixture(scope="session")
def verdicts() -> list[Verdict]:
    refs, found = run_all()
    broken = {name: ref.problems for name, ref in refs.items() if ref.problems}
    assert not broken, f"lifecycles that fail without any fault: {broken}"
    return found


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lifecycle", list(LIFECYCLES))
def test_every_fault_leaves_the_invariants_and_the_outcome_whole(
    verdicts: list[Verdict], lifecycle: str, kind: str
) -> None:
    failing = [v for v in by_kind(verdicts, lifecycle, kind) if not v.holds]
    report = "\n".join(f"{v.fault.label}: {'; '.join(v.problems)}" for v in failing)
    assert not failing, f"{len(failing)} {kind} scenarios of {lifecycle!r} fail:\n{report}"


def test_every_lifecycle_meets_every_kind_of_fault(verdicts: list[Verdict]) -> None:
    """Each lifecycle gets each event fault; call faults are spread over the lifecycles."""
    for lifecycle in LIFECYCLES:
        kinds = {v.fault.kind for v in verdicts if v.lifecycle == lifecycle}
        assert {"duplicate", "concurrent", "reorder", "held", "lost", "dead-letter"} <= kinds
    assert {"crash", "throttle"} <= {v.fault.kind for v in verdicts}
