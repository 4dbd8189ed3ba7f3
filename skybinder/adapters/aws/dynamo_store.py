"""SessionStore on one DynamoDB table: conditional writes, counters for admission, TTL on ends.

The table's layout is in dynamo_schema.py. Every write is conditional on the state it expects,
so two Lambdas racing on one session cannot both win. Most transitions are one UpdateItem
that sets only the changed fields; a move to `stopped`/`failed` reads the session first and
commits the move and the counter decrements together, guarded by the revision it read.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from skybinder.adapters.aws import dynamo_counters as counters
from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_items import (
    Expression,
    image_item,
    image_key,
    image_partition,
    model_from_item,
    session_index_values,
    session_item,
    session_key,
    status_partition,
)
from skybinder.adapters.aws.dynamo_table import ConditionFailed, DynamoTable
from skybinder.domain.admission import check_changes
from skybinder.domain.model import (
    ACTIVE,
    Image,
    ImageState,
    Limits,
    Session,
    SessionState,
    can_move,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

ENDED_RETENTION = 30 * 24 * 3600.0  # ended sessions stay listable for a month, then expire
# Fields whose change moves a session between counters: such moves read the session first.
_COUNTER_FIELDS = frozenset({"repo_key", "build_only"})
_PLACEHOLDERS = {"id": "-", "provider": "-", "spec": "-"}  # to validate changes on their own


class DynamoSessionStore:
    """Sessions, image records and admission counters in one DynamoDB table."""

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
        self._clock = clock  # only for the expiry of ended sessions without an ended_at
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
        ops = [put, *counters.admission(self._table, session, limits)]
        codes = self._table.transact(ops)
        if codes is not None:
            raise counters.refusal(session, ops, codes)

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
        fields = Session.model_validate({**_PLACEHOLDERS, **changes})  # ValueError names a field
        allowed = frozenset(SessionState(state) for state in expected)
        if new.terminal or _COUNTER_FIELDS & changes.keys():
            return self._transition_read(session_id, allowed, new, changes)
        movable = [state.value for state in sorted(allowed) if can_move(state, new)]
        if not movable:
            _check_refusal(self._table.get(session_key(session_id)), session_id, allowed, new)
            return None
        e = _changes(Expression(), fields, changes.keys(), new)
        condition = f"attribute_exists({e.name(n.PARTITION_KEY)}) AND {e.one_of('state', movable)}"
        try:
            item = self._table.update(session_key(session_id), e, condition, old=True)
        except ConditionFailed as refused:
            _check_refusal(refused.item, session_id, allowed, new)
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

    def update_image(
        self,
        name: str,
        expected: Iterable[ImageState],
        new: ImageState,
        **changes: object,
    ) -> Image | None:
        check_changes(Image, changes, fixed=("state",))
        fields = Image.model_validate({"name": name, **changes})
        allowed = sorted(ImageState(state).value for state in expected)
        if not allowed:
            return None
        e = Expression()
        for attr, value in fields.model_dump(mode="json", include=set(changes)).items():
            e.set(attr, value)
        e.set("state", ImageState(new).value)
        condition = f"attribute_exists({e.name(n.PARTITION_KEY)}) AND {e.one_of('state', allowed)}"
        try:
            return model_from_item(Image, self._table.update(image_key(name), e, condition))
        except ConditionFailed:
            return None

    # -- counters -------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """The admission counters: "global" and "repo#<repo_key>" -> active sessions."""
        return counters.read(self._table)

    def repair_counters(self) -> dict[str, tuple[int, int]]:
        """Recompute the counters from the active sessions; {counter: (was, now)} it fixed."""
        return counters.repair(self._table, self.list(ACTIVE))

    # -- plumbing -------------------------------------------------------------------------

    def _transition_read(
        self,
        session_id: str,
        allowed: frozenset[SessionState],
        new: SessionState,
        changes: Mapping[str, object],
    ) -> Session | None:
        """A transition that may move counters: read, decide, write guarded by the revision."""
        for _ in range(self._attempts):
            item = self._table.get(session_key(session_id))
            current = None if item is None else model_from_item(Session, item)
            if item is None or current is None or current.state not in allowed:
                return None
            if not can_move(current.state, new):
                raise _cannot_move(session_id, current.state, new)
            moved = Session.model_validate({**current.model_dump(), **changes, "state": new})
            e = _changes(Expression(), moved, changes.keys(), new)
            if new.terminal:
                e.set(n.TTL_ATTRIBUTE, self._expiry(moved))
            revision = e.name(n.REVISION_ATTRIBUTE)
            guard = f"{revision} = {e.value(int(item[n.REVISION_ATTRIBUTE]['N']))}"
            ops = [
                self._table.update_op(session_key(session_id), e, guard),
                *(
                    counters.change(self._table, name, amount)
                    for name, amount in counters.deltas(current, moved).items()
                ),
            ]
            if self._table.transact(ops) is None:
                return moved
            # The session changed after we read it: decide again on what it is now.
        raise RuntimeError(
            f"Session {session_id!r} kept changing while being moved to {new}; try again."
        )

    def _expiry(self, session: Session) -> int:
        ended = session.ended_at if session.ended_at is not None else self._clock()
        return int(ended + self._retention)


def _changes(
    e: Expression, fields: Session, changed: Iterable[str], new: SessionState
) -> Expression:
    """SET the changed fields, the new state and the index attributes that follow from them."""
    names = set(changed)
    for attr, value in fields.model_dump(mode="json", include=names).items():
        e.set(attr, value)
    e.set("state", new.value)
    index = session_index_values(fields.model_copy(update={"state": new}))
    e.set(n.STATUS_INDEX_PARTITION_KEY, index[n.STATUS_INDEX_PARTITION_KEY])
    e.set(n.IMAGE_INDEX_SORT_KEY, index[n.IMAGE_INDEX_SORT_KEY])
    if "created_at" in names:
        e.set(n.STATUS_INDEX_SORT_KEY, index[n.STATUS_INDEX_SORT_KEY])
    if "image_name" in names:
        e.set(n.IMAGE_INDEX_PARTITION_KEY, index[n.IMAGE_INDEX_PARTITION_KEY])
    if "task_id" in names and fields.task_id:
        e.set(n.TASK_INDEX_PARTITION_KEY, fields.task_id)
    elif "task_id" in names:
        e.remove(n.TASK_INDEX_PARTITION_KEY)
    return e.add(n.REVISION_ATTRIBUTE, 1)


def _check_refusal(
    item: Mapping[str, Any] | None,
    session_id: str,
    allowed: frozenset[SessionState],
    new: SessionState,
) -> None:
    """After a refused write: ValueError when the state was expected but cannot move to `new`
    (a caller's mistake); otherwise the session was not in an expected state, or is gone."""
    if item is not None:
        current = SessionState(item["state"]["S"])
        if current in allowed:
            raise _cannot_move(session_id, current, new)


def _cannot_move(session_id: str, current: SessionState, new: SessionState) -> ValueError:
    return ValueError(f"Session {session_id!r} cannot move from {current} to {new}.")
