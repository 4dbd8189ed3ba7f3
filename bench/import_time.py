"""Benchmark: import time of each Lambda function's entry module, a proxy for its cold start.

    .venv/bin/python -m bench.import_time [--runs 7]

Each module is imported as Lambda imports it (the function's folder as the working directory,
the package beside it) in a fresh interpreter with `python -X importtime`; the figure is the
module's cumulative import time, the best of `--runs` after one run that writes bytecode.
Goals here: build and reap <= 300 ms, launch <= 800 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = {"build": ("handler", 300), "reap": ("handler", 300), "launch": ("app", 800)}


def import_ms(function: str, module: str) -> tuple[float, list[tuple[float, str]]]:
    """The module's cumulative import time, and its heaviest direct imports (ms, name)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT / "functions" / function,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0.0
    direct: list[tuple[float, str]] = []  # depth-1 imports since the last top-level one
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or not line.split("|")[1].strip().isdigit():
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth == 1:
            direct.append((int(cumulative) / 1000, name.strip()))
        elif depth == 0 and name.strip() == module:
            total = int(cumulative) / 1000
            break
        elif depth == 0:
            direct = []
    return total, sorted(direct, reverse=True)[:4]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    failed = False
    for function, (module, goal) in FUNCTIONS.items():
        import_ms(function, module)  # writes the bytecode caches, as a deployed package has them
        times, heaviest = [], []
        for _ in range(runs):
            total, heaviest = import_ms(function, module)
            times.append(total)
        best = min(times)
        verdict = "ok" if best <= goal else "over"
        failed |= best > goal
        print(
            f"{function:<7} {module:<8} best {best:6.0f} ms  median {statistics.median(times):6.0f}"
            f" ms  goal {goal} ms  {verdict}"
        )
        print("        heaviest imports: " + ", ".join(f"{n} {ms:.0f} ms" for ms, n in heaviest))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
