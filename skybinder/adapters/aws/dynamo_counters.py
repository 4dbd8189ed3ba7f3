"""Admission counters: DynamoDB cannot count inside a transaction, so counter items do it.

`COUNTER/global` and `COUNTER/repo#<repo_key>` hold the number of active sessions (build-only
ones too: a build takes capacity as a server does). Creating a session increments both in the
transaction that writes it, under the conditions `count < limit`; ending it decrements both in
the transaction that moves it to `stopped` or `failed`. The global counter also notes when
those writes last moved it (`changed_at`), and a session that starts at once is admitted only
while the session proxy's item says it is awake: the reaper marks it asleep only in a
transaction that finds the counter at zero and long unmoved (`proxy_asleep`), so the two
exclude each other. `repair` recomputes the counters from the sessions, for the reaper;
`repair_events` does the same for the counters an event's item keeps (dynamo_events.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_events import (
    AVAILABLE,
    CHANGED_AT,
    COUNTERS,
    INTERRUPTIONS,
    RESERVED,
    SEATS_USED,
    SESSIONS,
    SPENT,
    holding,
    stored_counts,
)
from skybinder.adapters.aws.dynamo_items import (
    Expression,
    Item,
    counter_key,
    image_partition,
    model_from_item,
    op_sort_key,
    python,
    repo_counter,
)
from skybinder.adapters.aws.dynamo_table import CONDITION_FAILED, ConditionFailed, DynamoTable
from skybinder.domain.admission import GLOBAL_QUOTA_MESSAGE, repo_quota_message
from skybinder.domain.errors import ProxyAsleepError, QuotaExceededError
from skybinder.domain.event import Event
from skybinder.domain.model import ACTIVE, Limits, Session

GLOBAL = n.COUNTER_GLOBAL
AWAKE = n.AWAKE_ATTRIBUTE


def counted(session: Session) -> bool:
    """True when the session holds a slot: every active one (as the contract says)."""
    return session.state in ACTIVE


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


def change(table: DynamoTable, name: str, amount: int, at: float, limit: int = 0) -> Item:
    """An Update of one counter at time `at`; with a limit, an increment only while
    `count < limit`. The global counter keeps `at` as when it last moved."""
    e = Expression().add(n.COUNT_ATTRIBUTE, amount).set(n.KIND_ATTRIBUTE, "counter")
    if name == GLOBAL:
        e.set(CHANGED_AT, at)
    return table.update_op(counter_key(name), e, _below(e, limit) if limit else None)


def admission(table: DynamoTable, session: Session, limits: Limits | None, at: float) -> list[Item]:
    """What goes with inserting `session` at time `at`: counter increments (under the limits)
    when it takes a slot; otherwise only checks that the limits are not reached, as the
    contract says."""
    limits = limits or Limits()
    slots = [
        (GLOBAL, limits.max_sessions),
        (repo_counter(session.repo_key), limits.max_sessions_per_repo),
    ]
    if counted(session):
        ops = [change(table, name, 1, at, limit) for name, limit in slots]
        if limits.proxy_awake:
            e = Expression()
            ops.append(table.check_op(proxy_key(), e, f"attribute_exists({e.name(AWAKE)})"))
        return ops
    checks = []
    for name, limit in slots:
        if limit:
            e = Expression()
            checks.append(table.check_op(counter_key(name), e, _below(e, limit)))
    return checks


def refusal(session: Session, ops: Sequence[Item], codes: Sequence[str]) -> Exception | None:
    """The error for a cancelled admission when the session's own put or one of these
    counter `ops` failed its condition; None when only ops after them (an event's) did."""
    failed = {
        op_sort_key(op) for op, code in zip(ops, codes, strict=False) if code == CONDITION_FAILED
    }
    if n.SESSION_SORT in failed:
        return ValueError(f"Session {session.id!r} already exists.")
    if GLOBAL in failed:
        return QuotaExceededError(GLOBAL_QUOTA_MESSAGE)
    if failed - {n.PROXY_SORT}:
        return QuotaExceededError(repo_quota_message(session))
    if failed:
        return ProxyAsleepError("The session proxy is asleep: wake it, then admit the session.")
    return None


def _below(e: Expression, limit: int) -> str:
    count = e.name(n.COUNT_ATTRIBUTE)
    return f"attribute_not_exists({count}) OR {count} < {e.value(limit)}"


def proxy_key() -> Item:
    return {n.PARTITION_KEY: {"S": n.PROXY_PARTITION}, n.SORT_KEY: {"S": n.PROXY_SORT}}


def proxy_awake(table: DynamoTable) -> bool:
    item = table.get(proxy_key())
    return item is not None and AWAKE in item


def proxy_woken(table: DynamoTable, at: float) -> None:
    e = Expression().set(AWAKE, at).set(n.KIND_ATTRIBUTE, "proxy")
    table.update(proxy_key(), e, "", new=False)


def proxy_asleep(table: DynamoTable, quiet_since: float) -> bool:
    """One transaction: the global counter at zero and unmoved since `quiet_since`, and the
    proxy marked awake -> marked asleep. False when either does not hold."""
    quiet, awake = Expression(), Expression()
    count, moved = quiet.name(n.COUNT_ATTRIBUTE), quiet.name(CHANGED_AT)
    idle = (
        f"(attribute_not_exists({count}) OR {count} = {quiet.value(0)}) AND "
        f"(attribute_not_exists({moved}) OR {moved} < {quiet.value(quiet_since)})"
    )
    ops = [
        table.check_op(counter_key(GLOBAL), quiet, idle),
        table.update_op(proxy_key(), awake.remove(AWAKE), f"attribute_exists({awake.name(AWAKE)})"),
    ]
    return table.transact(ops) is None


def read(table: DynamoTable) -> dict[str, int]:
    """Every counter, by name ("global", "repo#<repo_key>"), read consistently."""
    return {
        item[n.SORT_KEY]["S"]: int(item.get(n.COUNT_ATTRIBUTE, {"N": "0"})["N"])
        for item in table.query({n.PARTITION_KEY: n.COUNTER_PARTITION})
    }


def repair(
    table: DynamoTable, stored: Mapping[str, int], active: Iterable[Session]
) -> dict[str, tuple[int, int]]:
    """Set every counter to the number of `active` sessions it should count.

    `stored` is what `read` returned before the sessions were listed. Returns
    {counter: (was, now)} for the counters it corrected. Each write is conditional on the
    value read, so an admission racing the repair is never overwritten (that counter is left
    for the next pass); a session admitted between the two reads has moved its counter, whose
    write is then skipped too. The index that lists sessions lags writes by up to about a
    second, so a session admitted just before a pass can be missed once; the next pass puts it
    back. Repository counters that reach zero are deleted, so that their number stays that of
    the repositories in use.
    """
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


# -- event counters (dynamo_events.py) --------------------------------------------------------

QUIET = 60.0  # seconds an event's counters must rest before a recount may change them
RECOUNT_AFTER_END = 24 * 3600.0  # an event is recounted from all its sessions until then
EARLY_START = 24 * 3600.0  # the earliest an event session starts before its event (warm pool)


def repair_events(
    table: DynamoTable,
    events: Iterable[Item],
    active: Iterable[Session],
    now: float,
    retention: float,
) -> dict[str, tuple[int, int]]:
    """Recount the counters of `events` (items read before `active` was listed) from their
    sessions, so that every reservation is held by an active session, or settled, or released.

    Returns {"event#<slug>:<counter>": (was, now)} for those it corrected. An event is looked
    at only when no write moved its counters for QUIET seconds, so the indexes the sessions are
    read from show every such write; each repair is conditional on all the counters as read,
    so a write racing it wins and the event is left for the next pass. Until a day after its
    end, and while none of its ended sessions can have expired (`retention`), an event is
    recounted from all of its sessions (they run its pinned image); later only its seats and
    reservations are, from the active sessions, and the money spent is kept as it stands.
    """
    mine: dict[str, list[Session]] = defaultdict(list)
    for session in active:
        if session.event:
            mine[session.event].append(session)
    fixed: dict[str, tuple[int, int]] = {}
    for item in events:
        if now - _changed_at(item) < QUIET:
            continue  # moved a moment ago: the indexes may not show why yet
        event = model_from_item(Event, item)
        full = bool(event.image_name) and now < min(
            event.ends_at + RECOUNT_AFTER_END, event.starts_at - EARLY_START + retention
        )
        sessions = _event_sessions(table, event, mine[event.slug]) if full else mine[event.slug]
        stored = stored_counts(item)
        want = recount(event, sessions, stored, full=full)
        changed = {a: (stored[a], value) for a, value in want.items() if stored[a] != value}
        if changed and _write_event(table, item, changed):
            for attr, (was, value) in changed.items():
                fixed[f"event#{event.slug}:{attr}"] = (was or 0, value)
    return fixed


def recount(
    event: Event, sessions: Iterable[Session], stored: Mapping[str, int | None], *, full: bool
) -> dict[str, int]:
    """The counters of `event` that `sessions` make; without `full` only the seats and
    reservations, with the money spent as `stored` says."""
    total: Counter[str] = Counter()
    for session in sessions:
        total.update(holding(session))
    want = {SEATS_USED: total[SEATS_USED], RESERVED: total[RESERVED]}
    if full:
        want.update({key: total[key] for key in (SPENT, SESSIONS, INTERRUPTIONS)})
    spent = want[SPENT] if full else stored[SPENT] or 0
    want[AVAILABLE] = event.budget_micros - spent - want[RESERVED]
    return want


def _event_sessions(table: DynamoTable, event: Event, active: Iterable[Session]) -> list[Session]:
    """The sessions of `event`: those of its image, in every state, and the active ones."""
    found = {session.id: session for session in active}
    partition = {n.IMAGE_INDEX_PARTITION_KEY: image_partition(event.image_name)}
    for item in table.query(partition, n.IMAGE_INDEX):
        session = model_from_item(Session, item)
        if session.event == event.slug:
            found.setdefault(session.id, session)
    return list(found.values())


def _changed_at(item: Mapping[str, Any]) -> float:
    return float(Decimal(item[CHANGED_AT]["N"])) if CHANGED_AT in item else 0.0


def _write_event(
    table: DynamoTable, item: Mapping[str, Any], changed: Mapping[str, tuple[int | None, int]]
) -> bool:
    e = Expression()
    guards = [f"attribute_exists({e.name(n.PARTITION_KEY)})"]
    for attr in (*COUNTERS, CHANGED_AT):
        if attr in item:
            guards.append(f"{e.name(attr)} = {e.value(python(item[attr]))}")
        else:
            guards.append(f"attribute_not_exists({e.name(attr)})")
    for attr, (_, value) in changed.items():
        e.set(attr, value)
    try:
        table.update({k: item[k] for k in (n.PARTITION_KEY, n.SORT_KEY)}, e, " AND ".join(guards))
    except ConditionFailed:
        return False  # changed since we read it: the next pass looks again
    return True
