"""SessionStore on one DynamoDB table: conditional writes, counters for admission, TTL on ends.

The table's layout is in dynamo_schema.py. Every write is conditional on the state it expects,
so two Lambdas racing on one session cannot both win. Most transitions are one UpdateItem
that sets only the changed fields; a move to `stopped`/`failed` reads the session first and
commits the move, the counter decrements and the settlement of an event session together,
guarded by the revision it read. Events and their counters are in dynamo_events.py.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from skybinder.adapters.aws import dynamo_counters as counters
from skybinder.adapters.aws import dynamo_events as events
from skybinder.adapters.aws import dynamo_routes as routes
from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_events import DynamoEventStore
from skybinder.adapters.aws.dynamo_items import (
    SESSION_PLACEHOLDERS,
    Expression,
    Item,
    cannot_move,
    check_refusal,
    image_item,
    image_key,
    image_partition,
    model_from_item,
    session_item,
    session_key,
    session_update,
    status_partition,
)
from skybinder.adapters.aws.dynamo_table import ConditionFailed, DynamoTable
from skybinder.domain.admission import check_changes, check_image_update
from skybinder.domain.event_admission import session_cost
from skybinder.domain.model import (
    ACTIVE,
    Image,
    ImageState,
    Limits,
    Session,
    SessionRoute,
    SessionState,
    can_move,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

ENDED_RETENTION = 30 * 24 * 3600.0  # ended sessions stay listable for a month, then expire
# Fields whose change moves a session between counters: such moves read the session first.
_COUNTER_FIELDS = frozenset({"repo_key", "build_only", "event", "reserved_micros"})


class DynamoSessionStore(DynamoEventStore):
    """Sessions, image records, events and admission counters in one DynamoDB table."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        retention: float = ENDED_RETENTION,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 8,
    ) -> None:
        self._table = DynamoTable(client, table_name, sleep=sleep, attempts=attempts)
        self._retention = retention
        # For the expiry of ended sessions without an ended_at, and when event counters moved.
        self._clock = clock
        self._attempts = attempts

    def close(self) -> None:
        """Nothing to release: the client belongs to the caller."""

    # -- sessions -------------------------------------------------------------------------

    def create(self, session: Session, limits: Limits | None = None) -> None:
        expires = self._expiry(session) if session.state.terminal else None
        e = Expression()
        put = self._table.put_op(
            session_item(session, expires), e, f"attribute_not_exists({e.name(n.PARTITION_KEY)})"
        )
        ops = [put, *counters.admission(self._table, session, limits, self._clock())]
        joining = events.joining(self._table, session, self._clock())
        for _ in range(self._attempts):
            codes = self._table.transact([*ops, *joining])
            if codes is None:
                return
            refused = counters.refusal(session, ops, codes) or self._event_refusal(session)
            if refused is not None:
                raise refused
            # Only the event refused: it would admit the session now, so try again; an ended
            # session is kept even when its event is gone, with nothing to count.
            live = session.state in ACTIVE
            joining = events.joining(self._table, session, self._clock()) if live else []
        raise RuntimeError(
            f"Event {session.event!r} kept changing while admitting session {session.id!r}; "
            "try again."
        )

    def get(self, session_id: str) -> Session | None:
        item = self._table.get(session_key(session_id))
        return None if item is None else model_from_item(Session, item)

    def transition(
        self,
        session_id: str,
        expected: Iterable[SessionState],
        new: SessionState,
        **changes: object,
    ) -> Session | None:
        check_changes(Session, changes, fixed=("id", "state"))
        new = SessionState(new)
        fields = Session.model_validate({**SESSION_PLACEHOLDERS, **changes})  # names a bad field
        allowed = frozenset(SessionState(state) for state in expected)
        if new.terminal or _COUNTER_FIELDS & changes.keys():
            return self._transition_read(session_id, allowed, new, changes)
        movable = [state.value for state in sorted(allowed) if can_move(state, new)]
        if not movable:
            check_refusal(self._table.get(session_key(session_id)), session_id, allowed, new)
            return None
        e = session_update(Expression(), fields, changes.keys(), new)
        condition = f"attribute_exists({e.name(n.PARTITION_KEY)}) AND {e.one_of('state', movable)}"
        try:
            item = self._table.update(session_key(session_id), e, condition, old=True)
        except ConditionFailed as refused:
            check_refusal(refused.item, session_id, allowed, new)
            return None
        return model_from_item(Session, item)

    def list(
        self,
        states: Iterable[SessionState] | None = None,
        image_name: str | None = None,
    ) -> builtins.list[Session]:
        wanted = list(SessionState) if states is None else {SessionState(s) for s in states}
        keys: builtins.list[dict[str, str]]
        if image_name is None:
            index = n.STATUS_INDEX
            keys = [{n.STATUS_INDEX_PARTITION_KEY: status_partition(s)} for s in wanted]
        else:
            index = n.IMAGE_INDEX
            partition = {n.IMAGE_INDEX_PARTITION_KEY: image_partition(image_name)}
            keys = [partition] if states is None else [
                {**partition, n.IMAGE_INDEX_SORT_KEY: s.value} for s in wanted
            ]  # fmt: skip
        # By id: a session that moved between two of these queries is kept once.
        found = {
            session.id: session
            for key in keys
            for session in (model_from_item(Session, i) for i in self._table.query(key, index))
        }
        # Ties in created_at are broken by id: DynamoDB keeps no insertion order.
        return sorted(found.values(), key=lambda s: (s.created_at, s.id))

    def find_by_task(self, task_id: str) -> Session | None:
        if not task_id:
            return None  # sessions without a task are not "the session of task ''"
        hits = self._table.query({n.TASK_INDEX_PARTITION_KEY: task_id}, n.TASK_INDEX)
        for item in sorted(hits, key=lambda i: (float(i["created_at"]["N"]), i["id"]["S"])):
            # The index may lag; the session read by id is the truth.
            session = self.get(item["id"]["S"])
            if session is not None and session.task_id == task_id:
                return session
        return None

    # -- the session proxy (dynamo_routes.py) ---------------------------------------------

    def route(self, session_id: str) -> SessionRoute | None:
        return routes.route(self._table, session_id)

    def record_activity(self, session_id: str, at: float) -> bool:
        return routes.record_activity(self._table, session_id, at)

    # -- images ---------------------------------------------------------------------------

    def get_image(self, name: str) -> Image | None:
        item = self._table.get(image_key(name))
        return None if item is None else model_from_item(Image, item)

    def claim_build(self, image: Image) -> bool:
        if image.state is not ImageState.BUILDING:
            raise ValueError(
                f"A build is claimed with an image in state building, not {image.state}."
            )
        e = Expression()
        condition = (
            f"attribute_not_exists({e.name(n.PARTITION_KEY)})"
            f" OR {e.name('state')} = {e.value(ImageState.FAILED.value)}"
        )
        try:
            self._table.put(image_item(image), e, condition)
        except ConditionFailed:
            return False
        return True

    def list_images(self) -> builtins.list[Image]:
        items = self._table.query(
            {n.STATUS_INDEX_PARTITION_KEY: n.IMAGE_STATUS_PARTITION}, n.STATUS_INDEX
        )
        images = [model_from_item(Image, item) for item in items]
        return sorted(images, key=lambda i: (-i.created_at, i.name))

    def update_image(
        self,
        name: str,
        expected: Iterable[ImageState],
        new: ImageState,
        where: Mapping[str, object] | None = None,
        /,
        **changes: object,
    ) -> Image | None:
        check_image_update(changes, where)
        fields = Image.model_validate({"name": name, **changes})
        allowed = sorted(ImageState(state).value for state in expected)
        if not allowed:
            return None
        e = Expression()
        for attr, value in fields.model_dump(mode="json", include=set(changes)).items():
            e.set(attr, value)
        e.set("state", ImageState(new).value)
        condition = f"attribute_exists({e.name(n.PARTITION_KEY)}) AND {e.one_of('state', allowed)}"
        if where:
            required = Image.model_validate({"name": name, **where})
            for attr, value in required.model_dump(mode="json", include=set(where)).items():
                condition += f" AND {e.name(attr)} = {e.value(value)}"
        try:
            return model_from_item(Image, self._table.update(image_key(name), e, condition))
        except ConditionFailed:
            return None

    # -- counters -------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """The admission counters: "global" and "repo#<repo_key>" -> active sessions."""
        return counters.read(self._table)

    # -- the session proxy's mark (ProxyMarks, dynamo_counters.py) -------------------------

    def proxy_awake(self) -> bool:
        return counters.proxy_awake(self._table)

    def mark_proxy_awake(self) -> None:
        counters.proxy_woken(self._table, self._clock())

    def mark_proxy_asleep(self, quiet_since: float) -> bool:
        return counters.proxy_asleep(self._table, quiet_since)

    def repair_counters(self) -> dict[str, tuple[int, int]]:
        """Recompute the admission and event counters from the sessions; {counter: (was,
        now)} for those it fixed. Counters are read before the sessions (see counters.repair)."""
        stored, event_items = counters.read(self._table), self._event_items()
        active = self.list(ACTIVE)
        fixed = counters.repair(self._table, stored, active)
        now, retention = self._clock(), self._retention
        return fixed | counters.repair_events(self._table, event_items, active, now, retention)

    # -- plumbing -------------------------------------------------------------------------

    def _transition_read(
        self,
        session_id: str,
        allowed: frozenset[SessionState],
        new: SessionState,
        changes: Mapping[str, object],
    ) -> Session | None:
        """A transition that may move counters: read, decide, write guarded by the revision.
        A move to `stopped`/`failed` settles the session's cost with its event."""
        settle = True
        for _ in range(self._attempts):
            item = self._table.get(session_key(session_id))
            current = None if item is None else model_from_item(Session, item)
            if item is None or current is None or current.state not in allowed:
                return None
            if not can_move(current.state, new):
                raise cannot_move(session_id, current.state, new)
            moved = Session.model_validate({**current.model_dump(), **changes, "state": new})
            changed = set(changes)
            if new.terminal:
                moved.cost_micros = session_cost(moved)
                changed.add("cost_micros")
            ops = self._moving_ops(item, current, moved, changed, settle=settle)
            codes = self._table.transact(ops)
            if codes is None:
                return moved
            if events.refused_by_event(ops, codes):
                # The event's item is gone: the session still ends, with nothing to settle.
                settle = False
            # Else the session changed after we read it: decide again on what it is now.
        raise RuntimeError(
            f"Session {session_id!r} kept changing while being moved to {new}; try again."
        )

    def _moving_ops(
        self, item: Item, current: Session, moved: Session, changed: set[str], *, settle: bool
    ) -> builtins.list[Item]:
        """The session's update (guarded by the revision read) and the counters it moves."""
        e = session_update(Expression(), moved, changed, moved.state)
        if moved.state.terminal:
            e.set(n.TTL_ATTRIBUTE, self._expiry(moved))
        revision = e.name(n.REVISION_ATTRIBUTE)
        guard = f"{revision} = {e.value(int(item[n.REVISION_ATTRIBUTE]['N']))}"
        return [
            self._table.update_op(session_key(current.id), e, guard),
            *(
                counters.change(self._table, name, amount, self._clock())
                for name, amount in counters.deltas(current, moved).items()
            ),
            *(events.moving(self._table, current, moved, self._clock()) if settle else []),
        ]

    def _expiry(self, session: Session) -> int:
        ended = session.ended_at if session.ended_at is not None else self._clock()
        return int(ended + self._retention)
