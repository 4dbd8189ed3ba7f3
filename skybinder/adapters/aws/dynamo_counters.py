"""Admission counters: DynamoDB cannot count inside a transaction, so counter items do it.

`COUNTER/global` and `COUNTER/repo#<repo_key>` hold the number of active sessions that take a
slot (not build-only). Creating such a session increments both in the transaction that writes
it, under the conditions `count < limit`; ending it decrements both in the transaction that
moves it to `stopped` or `failed`. `repair` recomputes them from the sessions, for the reaper.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_items import Expression, Item, counter_key, repo_counter
from skybinder.adapters.aws.dynamo_table import CONDITION_FAILED, ConditionFailed, DynamoTable
from skybinder.domain.admission import GLOBAL_QUOTA_MESSAGE, repo_quota_message
from skybinder.domain.errors import QuotaExceededError
from skybinder.domain.model import ACTIVE, Limits, Session

GLOBAL = n.COUNTER_GLOBAL


def counted(session: Session) -> bool:
    """True when the session holds a slot: active and not build-only (as the contract says)."""
    return session.state in ACTIVE and not session.build_only


def deltas(before: Session | None, after: Session) -> dict[str, int]:
    """Counter changes when `before` becomes `after` (None: `after` is new)."""
    change: Counter[str] = Counter()
    if before is not None and counted(before):
        change[GLOBAL] -= 1
        change[repo_counter(before.repo_key)] -= 1
    if counted(after):
        change[GLOBAL] += 1
        change[repo_counter(after.repo_key)] += 1
    return {name: amount for name, amount in change.items() if amount}


def change(table: DynamoTable, name: str, amount: int, limit: int = 0) -> Item:
    """An Update of one counter; with a limit, an increment only while `count < limit`."""
    e = Expression().add(n.COUNT_ATTRIBUTE, amount).set(n.KIND_ATTRIBUTE, "counter")
    return table.update_op(counter_key(name), e, _below(e, limit) if limit else None)


def admission(table: DynamoTable, session: Session, limits: Limits | None) -> list[Item]:
    """What goes with inserting `session`: counter increments (under the limits) when it
    takes a slot; otherwise only checks that the limits are not reached, as the contract says."""
    limits = limits or Limits()
    slots = [
        (GLOBAL, limits.max_sessions),
        (repo_counter(session.repo_key), limits.max_sessions_per_repo),
    ]
    if counted(session):
        return [change(table, name, 1, limit) for name, limit in slots]
    checks = []
    for name, limit in slots:
        if limit:
            e = Expression()
            checks.append(table.check_op(counter_key(name), e, _below(e, limit)))
    return checks


def refusal(session: Session, ops: Sequence[Item], codes: Sequence[str]) -> Exception:
    """The error for a cancelled admission, from the ops whose condition failed."""
    failed = {
        _sort_key(op) for op, code in zip(ops, codes, strict=False) if code == CONDITION_FAILED
    }
    if n.SESSION_SORT in failed:
        return ValueError(f"Session {session.id!r} already exists.")
    if GLOBAL in failed:
        return QuotaExceededError(GLOBAL_QUOTA_MESSAGE)
    return QuotaExceededError(repo_quota_message(session))


def _sort_key(op: Item) -> str:
    ((_, body),) = op.items()
    key: Item = body.get("Key") or body["Item"]  # a Put names its item, the others its key
    return str(key[n.SORT_KEY]["S"])


def _below(e: Expression, limit: int) -> str:
    count = e.name(n.COUNT_ATTRIBUTE)
    return f"attribute_not_exists({count}) OR {count} < {e.value(limit)}"


def read(table: DynamoTable) -> dict[str, int]:
    """Every counter, by name ("global", "repo#<repo_key>"), read consistently."""
    return {
        item[n.SORT_KEY]["S"]: int(item.get(n.COUNT_ATTRIBUTE, {"N": "0"})["N"])
        for item in table.query({n.PARTITION_KEY: n.COUNTER_PARTITION})
    }


def repair(table: DynamoTable, active: Iterable[Session]) -> dict[str, tuple[int, int]]:
    """Set every counter to the number of `active` sessions it should count.

    Returns {counter: (was, now)} for the counters it corrected. Each write is conditional
    on the value it read, so an admission racing the repair is never overwritten (that counter
    is left for the next pass). Counters are read first, sessions after: a session admitted in
    between has moved its counter, whose write is then skipped. The index that lists sessions
    lags writes by up to about a second, so a session admitted just before a pass can be missed
    once; the next pass puts it back. Repository counters that reach zero are deleted, so that
    their number stays that of the repositories in use.
    """
    stored = read(table)
    actual: Counter[str] = Counter()
    for session in active:
        actual.update(deltas(None, session))
    fixed: dict[str, tuple[int, int]] = {}
    for name in sorted(set(stored) | set(actual)):
        was, now = stored.get(name), actual.get(name, 0)
        if was == now or (was is None and now == 0):
            continue
        if _write(table, name, was, now):
            fixed[name] = (was or 0, now)
    for name, value in stored.items():
        if value == 0 and name != GLOBAL and actual.get(name, 0) == 0:
            _write(table, name, 0, 0)  # an unused repository's counter: delete it
    return fixed


def _write(table: DynamoTable, name: str, was: int | None, now: int) -> bool:
    e = Expression()
    count = e.name(n.COUNT_ATTRIBUTE)
    guard = f"attribute_not_exists({count})" if was is None else f"{count} = {e.value(was)}"
    try:
        if now == 0 and name != GLOBAL:
            table.delete(counter_key(name), e, guard)
        else:
            e.set(n.COUNT_ATTRIBUTE, now).set(n.KIND_ATTRIBUTE, "counter")
            table.update(counter_key(name), e, guard)
    except ConditionFailed:
        return False  # changed since we read it: the next pass looks again
    return True
