"""Benchmark: mutation testing of the code whose mistakes cost money or safety.

    .venv/bin/python -m bench.mutation [--module PATH ...] [--jobs N] [--keep]

mutmut makes mutants of the modules listed in `bench/mutation_targets.py`: copies of a
function with one thing changed (an operator, a constant, a condition, an argument, a string).
Each mutant runs against the tests that cover its function, among the few test files chosen
for its module, and is killed when one of them fails. The output has one line per module,
`mutation <module>: K/N killed`, and a last line `mutation: K/N killed`. A surviving mutant is
either listed in `bench/mutation_equivalents.toml` (it changes nothing a caller can observe;
its reason is printed, and it is left out of N, as it cannot be killed) or printed with its
change: a promise no test pins yet. The goal is at least 90 % killed in every module; the exit
status is 1 when a module falls short. mutmut mutates code inside functions, not module-level
constants: the regular expressions of the spec rules are pinned by tests of their own."""

from __future__ import annotations

import argparse
import ast
import difflib
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.mutation_targets import GOAL, TARGETS, Target

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = Path(__file__).with_name("mutation_equivalents.toml")
# What a module's tests may need besides the package and the tests (mutmut copies those).
ALSO_COPY = ("bench", "functions", "infra", "images", "Pulumi.yaml")
KILLED = frozenset({"killed", "timeout", "segfault"})
RESULT = re.compile(r"^\s*(\S+__mutmut_\d+): (.+)$")


@dataclass(frozen=True)
class Mutant:
    """One surviving mutant, keyed by what it changes (stable when lines move)."""

    name: str
    function: str
    before: str
    after: str


@dataclass(frozen=True)
class Equivalent:
    module: str
    function: str
    before: str
    after: str
    reason: str

    def matches(self, module: str, mutant: Mutant) -> bool:
        return (module, mutant.function, mutant.before, mutant.after) == (
            self.module,
            self.function,
            self.before,
            self.after,
        )


@dataclass
class Outcome:
    target: Target
    statuses: Counter[str]
    survivors: list[Mutant] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def killed(self) -> int:
        return sum(n for status, n in self.statuses.items() if status in KILLED)


def load_equivalents(path: Path = EQUIVALENTS) -> list[Equivalent]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Equivalent(**entry) for entry in data.get("equivalent", [])]


def dotted(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def mutant_globs(target: Target) -> list[str]:
    """mutmut's names of the mutants of `target`'s functions ("Class.method" for methods)."""
    base = dotted(target.module)
    if not target.functions:
        return [f"{base}.x*"]
    globs = []
    for function in target.functions:
        cls, _, name = function.rpartition(".")
        mangled = f"xǁ{cls}ǁ{name}" if cls else f"x_{name}"
        globs.append(f"{base}.{mangled}__mutmut_*")
    return globs


def function_of(name: str) -> str:
    """The function ("name", or "Class.name" for a method) a mutant's name points at."""
    mangled = name.partition("__mutmut_")[0].rpartition(".")[2]
    if mangled.startswith("xǁ"):
        return ".".join(mangled[2:].split("ǁ"))
    return mangled.removeprefix("x_")


def workspace(target: Target) -> Path:
    """A directory holding the project's code and a mutmut configuration for `target`."""
    where = Path(tempfile.mkdtemp(prefix="skybinder-mutation-"))
    for name in ("skybinder", "tests", *ALSO_COPY):
        (where / name).symlink_to(ROOT / name)
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    selection = [*target.tests, *(["-k", target.keyword] if target.keyword else [])]
    config += (
        "\n[tool.mutmut]\n"
        'source_paths = ["skybinder/"]\n'
        f"only_mutate = [{_toml(target.module)}]\n"
        f"also_copy = [{', '.join(_toml(p) for p in ALSO_COPY)}]\n"
        f"pytest_add_cli_args_test_selection = [{', '.join(_toml(a) for a in selection)}]\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:randomly"]\n'
        "use_git_change_detection = false\n"
    )
    (where / "pyproject.toml").write_text(config, encoding="utf-8")
    return where


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mutmut(where: Path, *args: str, log: Path | None = None) -> str:
    command = [str(Path(sys.executable).with_name("mutmut")), *args]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(command, cwd=where, env=env, capture_output=True, text=True)
    if log is not None:
        log.write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise RuntimeError(f"mutmut {' '.join(args)} failed in {where}:\n{tail}")
    return done.stdout


def functions_of(path: Path) -> dict[str, list[str]]:
    """The source lines of every function and method in `path` (mutmut's copies of them, each
    under its own name), by name; in each, its name is written as "<name>"."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            text = lines[node.lineno - 1 : node.end_lineno]
            found[node.name] = [text[0].replace(node.name, "<name>", 1), *text[1:]]
    return found


def change_of(functions: dict[str, list[str]], name: str) -> tuple[str, str]:
    """What a mutant changes: the lines it removes and adds, stripped of indentation."""
    mangled = name.rpartition(".")[2]
    original = functions[mangled.partition("__mutmut_")[0] + "__mutmut_orig"]
    before, after = [], []
    for line in difflib.ndiff(original, functions[mangled]):
        if line[:2] == "- ":
            before.append(line[2:].strip())
        elif line[:2] == "+ ":
            after.append(line[2:].strip())
    return "\n".join(before), "\n".join(after)


def run_target(target: Target, jobs: int, keep: bool) -> Outcome:
    started = time.monotonic()
    where = workspace(target)
    try:
        globs = mutant_globs(target)
        mutmut(where, "run", "--max-children", str(jobs), *globs, log=where / "run.log")
        statuses: Counter[str] = Counter()
        survivors = []
        functions = functions_of(where / "mutants" / target.module)
        for line in mutmut(where, "results", "--all", "true").splitlines():
            found = RESULT.match(line)
            if not found or not any(fnmatch.fnmatchcase(found[1], g) for g in globs):
                continue
            name, status = found[1], found[2].strip()
            statuses[status] += 1
            if status not in KILLED:
                before, after = change_of(functions, name)
                survivors.append(Mutant(name, function_of(name), before, after))
        return Outcome(target, statuses, survivors, time.monotonic() - started)
    finally:
        if keep:
            print(f"kept {where}", file=sys.stderr)
        else:
            shutil.rmtree(where, ignore_errors=True)


def explain(
    outcome: Outcome, equivalents: list[Equivalent]
) -> tuple[list[tuple[Mutant, Equivalent]], list[Mutant]]:
    """The survivors of `outcome` listed as equivalent (with their entry), and the others."""
    explained, unexplained = [], []
    for mutant in outcome.survivors:
        match = next((e for e in equivalents if e.matches(outcome.target.module, mutant)), None)
        if match is None:
            unexplained.append(mutant)
        else:
            explained.append((mutant, match))
    return explained, unexplained


def report(outcomes: list[Outcome], equivalents: list[Equivalent]) -> bool:
    """Print the figures; True when every module reaches the goal. A mutant listed as
    equivalent cannot be killed, so it is left out of its module's count."""
    ok, used, killed, counted = True, set(), 0, 0
    for outcome in outcomes:
        explained, unexplained = explain(outcome, equivalents)
        used.update(match for _, match in explained)
        total = outcome.total - len(explained)
        share = outcome.killed / total if total else 1.0
        ok = ok and share >= GOAL
        killed, counted = killed + outcome.killed, counted + total
        print(
            f"mutation {outcome.target.module}: {outcome.killed}/{total} killed ({share:.1%};"
            f" {len(unexplained)} survived, {len(explained)} equivalent left out;"
            f" {outcome.seconds:.0f} s)"
        )
        for mutant, match in explained:
            print(f"    equivalent in {mutant.function}: {mutant.before!r} -> {mutant.after!r}")
            print(f"        because {match.reason}")
        for mutant in unexplained:
            print(f"    SURVIVED in {mutant.function}: {mutant.before!r} -> {mutant.after!r}")
    checked = {o.target.module for o in outcomes}
    for stale in equivalents:
        if stale.module in checked and stale not in used:
            print(
                f"    listed as equivalent but no longer a survivor: {stale.module} "
                f"{stale.function}: {stale.before!r} -> {stale.after!r}"
            )
    print(f"mutation: {killed}/{counted} killed")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="only this module (repeatable)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", action="store_true", help="keep mutmut's working directories")
    args = parser.parse_args(argv)
    targets = [t for t in TARGETS if not args.module or t.module in args.module]
    started = time.monotonic()
    outcomes = [run_target(target, args.jobs, args.keep) for target in targets]
    ok = report(outcomes, load_equivalents())
    print(f"mutation: {time.monotonic() - started:.0f} s on {args.jobs} workers")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
