"""Workshop events in the session table: the event item, its counters, admission, settlement.

A condition expression can compare but not add, so an event's item carries counters of its
own (names.py): seats_used, reserved, spent, sessions, interruptions, and available =
budget_micros - spent - reserved. What one session adds to them is `holding`: its seat and
reservation while active, its settled cost once ended, nothing unless it was admitted
(reserved_micros > 0). Every write that changes a session's holding moves the counters by the
difference in the transaction that writes the session: its admission (`joining`, which holds
only while the event exists, is not closed, has a free seat and `available` covers the
reservation), its settlement on the move to `stopped`/`failed`, and a change of its event or
reservation (`moving`). A session ends once, so it is settled once.
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_items import (
    SESSION_PLACEHOLDERS,
    Expression,
    Item,
    attribute,
    event_key,
    model_attributes,
    model_from_item,
    op_sort_key,
    session_key,
    session_update,
    status_partition,
)
from skybinder.adapters.aws.dynamo_table import CONDITION_FAILED, ConditionFailed, DynamoTable
from skybinder.domain.admission import check_changes
from skybinder.domain.errors import EventClosedError, EventNotFoundError
from skybinder.domain.event import EVENT_FIXED, Event, EventUsage
from skybinder.domain.event_admission import budget_error, closed_message, full_error
from skybinder.domain.model import ACTIVE, RUNNING, Session, SessionState

SEATS_USED = n.SEATS_USED_ATTRIBUTE
RESERVED = n.RESERVED_ATTRIBUTE
SPENT = n.SPENT_ATTRIBUTE
AVAILABLE = n.AVAILABLE_ATTRIBUTE
SESSIONS = n.SESSIONS_ATTRIBUTE
INTERRUPTIONS = n.INTERRUPTIONS_ATTRIBUTE
CHANGED_AT = n.CHANGED_AT_ATTRIBUTE
COUNTERS = (SEATS_USED, RESERVED, SPENT, AVAILABLE, SESSIONS, INTERRUPTIONS)
# What a warm session's claim may not change: fields that move counters of any kind.
_CLAIM_FIXED = ("id", "state", "warm", "repo_key", "build_only", "event", "reserved_micros")
# Values for an Event's required fields, so that changes can be validated on their own.
_EVENT_PLACEHOLDERS: dict[str, object] = {
    "slug": "-", "title": "-", "provider": "-", "spec": "-", "starts_at": 0.0, "ends_at": 1.0,
    "seats": 1, "budget_micros": 1, "capacity": "spot", "cpu": 1.0, "memory_gb": 2.0,
    "max_minutes": 1,
}  # fmt: skip


def event_item(event: Event, now: float) -> Item:
    """A new event's item: its fields (no closed_at while open, so that closing can keep the
    first time), its place in the status index, and its counters at zero."""
    fields = set(Event.model_fields) - ({"closed_at"} if event.closed_at is None else set())
    counts = {**dict.fromkeys(COUNTERS, 0), AVAILABLE: event.budget_micros, CHANGED_AT: now}
    return {
        **event_key(event.slug),
        **model_attributes(event, fields),
        n.STATUS_INDEX_PARTITION_KEY: {"S": n.EVENT_STATUS_PARTITION},
        n.STATUS_INDEX_SORT_KEY: attribute(event.starts_at),
        n.KIND_ATTRIBUTE: {"S": "event"},
        **{attr: attribute(value) for attr, value in counts.items()},
    }


def stored_counts(item: Mapping[str, Any]) -> dict[str, int | None]:
    """The counters of an event's item; None for one that is missing."""
    return {attr: None if attr not in item else int(Decimal(item[attr]["N"])) for attr in COUNTERS}


def holding(session: Session) -> dict[str, int]:
    """What `session` adds to its event's counters."""
    if not session.event or session.reserved_micros <= 0:
        return {}  # never admitted: a refused attempt, or not an event session
    if session.state in ACTIVE:
        r = session.reserved_micros
        return {SESSIONS: 1, SEATS_USED: 1, RESERVED: r, AVAILABLE: -r}
    # Interruptions are counted with the cost: a session meets them until it ends.
    cost, interruptions = session.cost_micros, session.interruptions
    return {SESSIONS: 1, SPENT: cost, AVAILABLE: -cost, INTERRUPTIONS: interruptions}


def joining(table: DynamoTable, session: Session, now: float) -> list[Item]:
    """What goes with inserting `session`: for an active event session, its admission (the
    event's counters move, or are only checked when it reserves nothing); for an ended one
    that was admitted, its share of the counters."""
    if not session.event:
        return []
    held = holding(session)
    if session.state not in ACTIVE:
        return [_counters_op(table, session.event, held, now)] if held else []
    e = Expression()
    condition = " AND ".join(
        [
            f"attribute_exists({e.name(n.PARTITION_KEY)})",
            f"attribute_not_exists({e.name('closed_at')})",
            f"{e.name(SEATS_USED)} < {e.name('seats')}",
            f"{e.name(AVAILABLE)} >= {e.value(session.reserved_micros)}",
        ]
    )
    if not held:
        return [table.check_op(event_key(session.event), e, condition)]
    for attr, amount in held.items():
        e.add(attr, amount)
    e.set(CHANGED_AT, now)
    return [table.update_op(event_key(session.event), e, condition)]


def moving(table: DynamoTable, before: Session, after: Session, now: float) -> list[Item]:
    """The Updates of event counters when `before` becomes `after`: a settlement, or a change
    of event or reservation. Unconditional but for the event's existence."""
    deltas: dict[str, Counter[str]] = {}
    for session, sign in ((before, -1), (after, 1)):
        for attr, amount in holding(session).items():
            deltas.setdefault(session.event, Counter())[attr] += sign * amount
    return [
        _counters_op(table, slug, delta, now)
        for slug, delta in sorted(deltas.items())
        if any(delta.values())
    ]


def _counters_op(table: DynamoTable, slug: str, amounts: Mapping[str, int], now: float) -> Item:
    e = Expression()
    for attr, amount in amounts.items():
        if amount:
            e.add(attr, amount)
    e.set(CHANGED_AT, now)
    # A missing event item must not be made up of counters alone.
    return table.update_op(event_key(slug), e, f"attribute_exists({e.name(n.PARTITION_KEY)})")


def refused_by_event(ops: Iterable[Item], codes: Iterable[str]) -> bool:
    """True when a cancelled transaction's event op failed its condition."""
    return any(
        code == CONDITION_FAILED and op_sort_key(op) == n.EVENT_SORT
        for op, code in zip(ops, codes, strict=False)
    )


class DynamoEventStore:
    """The event half of the SessionStore port, which DynamoSessionStore inherits: events,
    their usage and warm sessions, on the table and clock the session half sets up."""

    _table: DynamoTable
    _clock: Callable[[], float]

    def create_event(self, event: Event) -> None:
        e = Expression()
        try:
            self._table.put(
                event_item(event, self._clock()),
                e,
                f"attribute_not_exists({e.name(n.PARTITION_KEY)})",
            )
        except ConditionFailed:
            raise ValueError(f"Event {event.slug!r} already exists.") from None

    def get_event(self, slug: str) -> Event | None:
        item = self._table.get(event_key(slug))
        return None if item is None else model_from_item(Event, item)

    def _event_items(self) -> builtins.list[Item]:
        """Every event's item, from the status index (which lags writes by about a second)."""
        partition = {n.STATUS_INDEX_PARTITION_KEY: n.EVENT_STATUS_PARTITION}
        return self._table.query(partition, n.STATUS_INDEX)

    def list_events(self) -> builtins.list[Event]:
        events = (model_from_item(Event, item) for item in self._event_items())
        return sorted(events, key=lambda event: (event.starts_at, event.slug))

    def update_event(self, slug: str, **changes: object) -> Event | None:
        check_changes(Event, changes, fixed=EVENT_FIXED)
        fields = Event.model_validate({**_EVENT_PLACEHOLDERS, **changes})
        plain = set(changes) - {"closed_at"}
        if not plain and fields.closed_at is None:
            return self.get_event(slug)  # nothing to write (reopening is not a change this makes)
        e = Expression()
        for attr, value in fields.model_dump(mode="json", include=plain).items():
            e.set(attr, value)
        if "starts_at" in plain:
            e.set(n.STATUS_INDEX_SORT_KEY, fields.starts_at)
        if fields.closed_at is not None:
            e.set_default("closed_at", fields.closed_at)  # closing again keeps the first time
        try:
            item = self._table.update(
                event_key(slug), e, f"attribute_exists({e.name(n.PARTITION_KEY)})"
            )
        except ConditionFailed:
            return None
        return model_from_item(Event, item)

    def event_usage(self, slug: str) -> EventUsage:
        item = self._table.get(event_key(slug))
        if item is None:
            return EventUsage()
        counts = {attr: value or 0 for attr, value in stored_counts(item).items()}
        warm = 0
        if model_from_item(Event, item).warm_pool:  # the query reads every ready session
            ready = self._table.query(
                {n.STATUS_INDEX_PARTITION_KEY: status_partition(SessionState.READY)},
                n.STATUS_INDEX,
            )
            sessions = (model_from_item(Session, i) for i in ready)
            warm = sum(1 for s in sessions if s.event == slug and s.warm and holding(s))
        return EventUsage(
            seats_in_use=counts[SEATS_USED],
            reserved_micros=counts[RESERVED],
            spent_micros=counts[SPENT],
            sessions=counts[SESSIONS],
            interruptions=counts[INTERRUPTIONS],
            warm_idle=warm,
        )

    def claim_warm(self, session_id: str, **changes: object) -> Session | None:
        check_changes(Session, changes, fixed=_CLAIM_FIXED)
        fields = Session.model_validate({**SESSION_PLACEHOLDERS, **changes})
        # The update rewrites the state's index attributes, so it names the state it keeps:
        # ready first (the likeliest), then the state a refusal shows, while it may be claimed.
        state = SessionState.READY
        for _ in range(len(RUNNING)):
            e = session_update(Expression(), fields, changes.keys(), state)
            e.set("warm", False)
            condition = (
                f"attribute_exists({e.name(n.PARTITION_KEY)})"
                f" AND {e.name('state')} = {e.value(state.value)}"
                f" AND {e.name('warm')} = {e.value(True)}"
            )
            try:
                item = self._table.update(session_key(session_id), e, condition, old=True)
            except ConditionFailed as refused:
                now = refused.item
                if now is None or not now.get("warm", {}).get("BOOL"):
                    return None  # gone, not warm, or claimed by someone else
                state = SessionState(now["state"]["S"])
                if state not in RUNNING:
                    return None
                continue
            return model_from_item(Session, item)
        return None  # it kept changing state: let the caller look elsewhere

    def _event_refusal(self, session: Session) -> Exception | None:
        """Why the event refused `session`, read after its admission was cancelled; None when
        it would admit it now (its counters moved in between), or `session` has ended (only
        a missing event refuses an ended one): then try again."""
        if session.state not in ACTIVE:
            return None
        item = self._table.get(event_key(session.event))
        if item is None:
            return EventNotFoundError(f"There is no event {session.event!r}.")
        event = model_from_item(Event, item)
        counts = {attr: value or 0 for attr, value in stored_counts(item).items()}
        if event.closed_at is not None:
            return EventClosedError(closed_message(event))
        if counts[SEATS_USED] >= event.seats:
            return full_error(event, counts[SEATS_USED])
        if counts[AVAILABLE] < session.reserved_micros:
            return budget_error(event, counts[SPENT])
        return None
