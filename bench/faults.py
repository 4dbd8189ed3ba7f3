"""The fault-injection suite as a table: every lifecycle, every fault, and whether it holds.

    .venv/bin/python -m bench.faults [--workers N]

Each scenario runs a lifecycle (cached, uncached, failed build, two sessions on one build,
Spot before and after ready, an event session, a failed start) through the real launch
service and build and reap handlers on moto, with one fault: an event duplicated (also at
once, by two functions, and raced by the reaper), reordered, held back, lost or dead-lettered;
a crash after one AWS call that changes something, followed by Lambda's retries and reaper
passes; or one call throttled (also in the reaper's passes that put the session proxy to
sleep once the binder is idle). It holds when the invariants hold (every session ended with
a reason or validly running, one live task per session at most, no task or reservation
without a live session, the proxy routing a live session to its current server only and
awake while sessions need it, then asleep, counters and event money as the sessions make
them, no image stuck) and the outcome is the fault-free run's, repaired within two reaper
passes. The last line: `faults: N/M hold`. The same scenarios run under pytest
(tests/aws/test_faults.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import time

from tests.aws.faults.suite import run_all


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults")
    parser.add_argument("--workers", type=int, default=0, help="processes (0: one per core)")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the functions' metrics lines
        _, verdicts = run_all(args.workers or None)
    width = max(len(v.lifecycle) for v in verdicts)
    for v in verdicts:
        outcome = "holds" if v.holds else "FAILS: " + "; ".join(v.problems)
        print(f"{v.lifecycle:<{width}}  {v.fault.label:<70}  {outcome}")
    held = sum(v.holds for v in verdicts)
    print(f"{len(verdicts)} scenarios in {time.perf_counter() - started:.0f} s")
    print(f"faults: {held}/{len(verdicts)} hold")
    return 0 if held == len(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
