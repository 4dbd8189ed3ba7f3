"""Benchmark: a simulated workshop on the real service layer — admissions, refusals, peak
concurrency, spend against the budget and time to the first session, over many seeds.

    .venv/bin/python -m bench.workshop [--seeds 200] [--scenario NAME] [--quiet]
                                       [--jobs N] [--grace MINUTES]

300 attendees arrive over 15 minutes at a two-hour event with 120 seats; sessions of varied
length, Spot interruptions (some before the server is ready, which relaunches it), Spot
capacity that is sometimes missing (on-demand takes over), attendees launching again; and a
worst case (on-demand, nobody leaves, slow stops) that spends the budget to the last cents.
What AWS would charge is computed from the simulated tasks' own timeline (per second, one
minute at least, from RunTask to the task's stop, at the price of the capacity it ran on),
never read from the store. The claim: that charge never exceeds the event's budget, on any
seed; the exit status is 1 when it does. A seed takes about half a CPU-second.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import statistics
import sys
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor

from bench.workshop_crowd import Habits
from bench.workshop_platform import Platform
from bench.workshop_sim import Outcome, Scenario, simulate
from skybinder.domain.model import CapacityPolicy
from skybinder.domain.pricing import usd

STORMY = Platform(interruptions_per_hour=0.5, early_interruption=0.1, spot_unavailable=0.3)
# Everything as dear as it gets: on-demand, nobody leaves, everyone relaunches at the limit,
# slow pulls and stops, late news; four hours, so that the budget is spent to the end.
SLOW = Platform(pull=(60.0, 120.0), stop=(45.0, 60.0), news=(5.0, 15.0))
GREEDY = Habits(never_leave=1.0, relaunch_after_limit=1.0)
SCENARIOS = (
    Scenario("seats-bound", budget_usd=25.0),
    Scenario("seats-bound-warm", budget_usd=25.0, warm_pool=40),
    Scenario("tight-budget", budget_usd=7.0),
    Scenario("tight-budget-warm-stormy", budget_usd=7.0, warm_pool=40, platform=STORMY),
    Scenario(
        "worst-case-on-demand",
        budget_usd=15.0,
        capacity=CapacityPolicy.ON_DEMAND,
        event_minutes=240.0,
        habits=GREEDY,
        platform=SLOW,
    ),
)


def run_seeds(scenario: Scenario, seeds: Iterable[int], jobs: int = 1) -> list[Outcome]:
    seeds = list(seeds)
    if jobs <= 1:
        return [simulate(scenario, seed) for seed in seeds]
    with ProcessPoolExecutor(jobs, initializer=quiet) as pool:
        return list(pool.map(simulate, [scenario] * len(seeds), seeds, chunksize=4))


def quiet() -> None:
    """The service logs every refusal and relaunch; the figures are the output here."""
    logging.getLogger("skybinder").setLevel(logging.CRITICAL)


def seed_line(o: Outcome) -> str:
    refused = ", ".join(f"{k} {n}" for k, n in sorted(o.refused.items())) or "none"
    first = "-" if o.first_ready is None else f"{o.first_ready:.0f}s"
    wait = statistics.median(o.waits) if o.waits else 0.0
    return (
        f"  seed {o.seed:>4}: admitted {o.admitted:>3} refused {sum(o.refused.values()):>4} "
        f"({refused}) peak {o.peak:>3} spend ${usd(o.true_spend):.4f} settled "
        f"${usd(o.settled):.4f} budget ${usd(o.budget):.2f} first {first} wait p50 {wait:.0f}s "
        f"spot-taken {o.interruptions}"
    )


def summary(scenario: Scenario, outcomes: list[Outcome]) -> list[str]:
    """The scenario's figures over all its seeds: a heading, then one line per figure."""
    s, runs = scenario, outcomes
    return [
        f"{s.name}: {s.attendees} attendees over {s.arrival_minutes:g} min, {s.seats} seats, "
        f"budget ${s.budget_usd:.2f}, warm pool {s.warm_pool}, {s.capacity.value}, "
        f"{s.max_minutes} min max (+{s.config.event_grace_minutes:g} grace), {len(runs)} seeds",
        f"  admitted (mean/min/max): {_mean(o.admitted for o in runs)} / "
        f"{min(o.admitted for o in runs)} / {max(o.admitted for o in runs)} "
        f"(warm hand-overs {_mean(o.warm_handovers for o in runs)}) of "
        f"{_mean(o.attempts for o in runs)} attempts",
        f"  refused per run: {_per_run(runs, 'refused')}",
        f"  admitted then failed per run: {_per_run(runs, 'failed')}",
        f"  sessions ended per run: {_per_run(runs, 'endings')}",
        f"  peak concurrency (tasks): mean {_mean(o.peak for o in runs)}, "
        f"max {max(o.peak for o in runs)}",
        _money_line(runs),
        _timing_line(runs),
        f"  spot interruptions per run {_mean(o.interruptions for o in runs)}, "
        f"tasks per run {_mean(o.tasks for o in runs)}; sessions the store under-settled "
        f"per run {_mean(o.undercounted for o in runs)} (largest gap "
        f"${usd(max(o.undercount_max for o in runs)):.6f})",
        f"  leaked tasks {sum(o.leaked_tasks for o in runs)}, sessions left open "
        f"{sum(o.open_sessions for o in runs)}, reservations left "
        f"${usd(sum(o.reserved_left for o in runs)):.4f}",
        verdict(runs),
    ]


def _money_line(runs: list[Outcome]) -> str:
    spend = [o.true_spend for o in runs]
    settled = [o.settled for o in runs]
    budget = max(o.budget for o in runs)
    return (
        f"  true spend: mean ${usd(round(statistics.fmean(spend))):.4f}, max "
        f"${usd(max(spend)):.4f} of ${usd(budget):.2f} ({max(spend) / budget:.1%}); "
        f"store settled: mean ${usd(round(statistics.fmean(settled))):.4f}, max "
        f"${usd(max(settled)):.4f}"
    )


def _timing_line(runs: list[Outcome]) -> str:
    firsts = [o.first_ready for o in runs if o.first_ready is not None]
    waits = sorted(w for o in runs for w in o.waits)
    if not firsts or not waits:
        return "  no session was ever ready"
    return (
        f"  time to first session after opening: median {statistics.median(firsts):.0f} s, "
        f"max {max(firsts):.0f} s; request to ready: p50 {_pct(waits, 50):.0f} s, "
        f"p95 {_pct(waits, 95):.0f} s, max {waits[-1]:.0f} s"
    )


def _mean(values: Iterable[float]) -> str:
    return f"{statistics.fmean(values):.1f}"


def _per_run(runs: list[Outcome], name: str) -> str:
    """A Counter field of the outcomes, summed and divided by the runs, largest first."""
    counts: Counter[str] = Counter()
    for o in runs:
        counts.update(getattr(o, name))
    return ", ".join(f"{k} {v / len(runs):.1f}" for k, v in counts.most_common()) or "none"


def verdict(outcomes: list[Outcome]) -> str:
    over = [o for o in outcomes if o.overshoot > 0 or o.settled > o.budget]
    if not over:
        return f"  zero overshoot across {len(outcomes)} seeds"
    worst = max(over, key=lambda o: o.overshoot)
    return (
        f"  OVERSHOOT in {len(over)} of {len(outcomes)} seeds: worst seed {worst.seed} spent "
        f"${usd(worst.true_spend):.4f} (settled ${usd(worst.settled):.4f}) of "
        f"${usd(worst.budget):.2f}"
    )


def _pct(values: list[float], pct: int) -> float:
    return values[min(len(values) - 1, len(values) * pct // 100)] if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200, help="seeds per scenario")
    parser.add_argument("--scenario", choices=[s.name for s in SCENARIOS], action="append")
    parser.add_argument("--quiet", action="store_true", help="no line per seed")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--grace", type=float, help="event_grace_minutes for every scenario (default: the binder's)"
    )
    opts = parser.parse_args(argv)
    quiet()
    overshoot = False
    for scenario in SCENARIOS:
        if opts.scenario and scenario.name not in opts.scenario:
            continue
        if opts.grace is not None:
            config = dataclasses.replace(scenario.config, event_grace_minutes=opts.grace)
            scenario = dataclasses.replace(scenario, config=config)
        outcomes = run_seeds(scenario, range(opts.seeds), opts.jobs)
        lines = summary(scenario, outcomes)
        print(lines[0])
        if not opts.quiet:
            print("\n".join(seed_line(o) for o in outcomes))
        print("\n".join(lines[1:]), flush=True)
        overshoot |= any(o.overshoot > 0 or o.settled > o.budget for o in outcomes)
    return 1 if overshoot else 0


if __name__ == "__main__":
    sys.exit(main())
