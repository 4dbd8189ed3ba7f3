"""Pydantic models to DynamoDB items and back, keys, and an expression builder."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel

from skybinder.adapters.aws import names as n
from skybinder.domain.model import Image, Session, SessionState

Item = dict[str, Any]  # attribute name -> DynamoDB AttributeValue ({"S": ...}, {"N": ...})
M = TypeVar("M", bound=BaseModel)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# -- values -------------------------------------------------------------------------------


def attribute(value: object) -> dict[str, Any]:
    """One Python value as a DynamoDB AttributeValue; floats go through their exact repr."""
    return dict(_serializer.serialize(_decimals(value)))


def python(attribute_value: Mapping[str, Any]) -> object:
    """One AttributeValue as a Python value: numbers become int when whole, float otherwise."""
    raw: Any = dict(attribute_value)
    return _numbers(_deserializer.deserialize(raw))


def _decimals(value: object) -> object:
    # TypeSerializer refuses floats (they may be inexact); repr() is the shortest string that
    # reads back as the same float, so the round trip is exact.
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    return value


def _numbers(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    return value


# -- models -------------------------------------------------------------------------------


def model_attributes(model: BaseModel, fields: Iterable[str] | None = None) -> Item:
    """The model's fields (all, or `fields`) as item attributes, one attribute per field."""
    include = None if fields is None else set(fields)
    return {k: attribute(v) for k, v in model.model_dump(mode="json", include=include).items()}


def model_from_item(model: type[M], item: Mapping[str, Any]) -> M:
    """The model stored in `item`; attributes that are not fields of `model` are ignored."""
    return model.model_validate({k: python(item[k]) for k in model.model_fields if k in item})


# -- keys and index attributes --------------------------------------------------------------


def key(partition: str, sort: str) -> Item:
    return {n.PARTITION_KEY: {"S": partition}, n.SORT_KEY: {"S": sort}}


def session_key(session_id: str) -> Item:
    return key(n.SESSION_PREFIX + session_id, n.SESSION_SORT)


def image_key(name: str) -> Item:
    return key(n.IMAGE_PREFIX + name, n.IMAGE_SORT)


def event_key(slug: str) -> Item:
    return key(n.EVENT_PREFIX + slug, n.EVENT_SORT)


def counter_key(name: str) -> Item:
    return key(n.COUNTER_PARTITION, name)


def repo_counter(repo_key: str) -> str:
    return n.COUNTER_REPO_PREFIX + repo_key


def status_partition(state: SessionState) -> str:
    return n.SESSION_PREFIX + SessionState(state).value


def image_partition(image_name: str) -> str:
    return n.SESSION_PREFIX + image_name


def session_index_values(session: Session) -> dict[str, object]:
    """The index attributes of a whole session; a task id of "" indexes nothing."""
    values: dict[str, object] = {
        n.STATUS_INDEX_PARTITION_KEY: status_partition(session.state),
        n.STATUS_INDEX_SORT_KEY: session.created_at,
        n.IMAGE_INDEX_PARTITION_KEY: image_partition(session.image_name),
        n.IMAGE_INDEX_SORT_KEY: session.state.value,
    }
    if session.task_id:
        values[n.TASK_INDEX_PARTITION_KEY] = session.task_id
    return values


def session_item(session: Session, expires_at: int | None) -> Item:
    item = {
        **session_key(session.id),
        **model_attributes(session),
        **{k: attribute(v) for k, v in session_index_values(session).items()},
        n.KIND_ATTRIBUTE: {"S": "session"},
        n.REVISION_ATTRIBUTE: {"N": "1"},
    }
    if expires_at is not None:
        item[n.TTL_ATTRIBUTE] = {"N": str(expires_at)}
    return item


def image_item(image: Image) -> Item:
    """An image record; in the by-status index under IMAGE_STATUS_PARTITION (by created_at),
    so the admin API lists images with one Query."""
    return {
        **image_key(image.name),
        **model_attributes(image),
        n.KIND_ATTRIBUTE: {"S": "image"},
        n.STATUS_INDEX_PARTITION_KEY: attribute(n.IMAGE_STATUS_PARTITION),
        n.STATUS_INDEX_SORT_KEY: attribute(image.created_at),
    }


def op_sort_key(op: Item) -> str:
    """The sort key of the item a transaction op writes or checks (its type, or counter name)."""
    ((_, body),) = op.items()
    target: Item = body.get("Key") or body["Item"]  # a Put names its item, the others its key
    return str(target[n.SORT_KEY]["S"])


# -- expressions ----------------------------------------------------------------------------


class Expression:
    """An update and a condition expression, with a placeholder for every name and value.

    Placeholders spare us DynamoDB's 570 reserved words (state, count, name, token, url...).
    """

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, dict[str, Any]] = {}
        self._set: list[str] = []
        self._add: list[str] = []
        self._remove: list[str] = []

    def name(self, attr: str) -> str:
        for placeholder, known in self.names.items():
            if known == attr:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attr
        return placeholder

    def value(self, value: object) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = attribute(value)
        return placeholder

    def one_of(self, attr: str, options: Iterable[object]) -> str:
        """`attr IN (...)`; callers make sure `options` is not empty."""
        return f"{self.name(attr)} IN ({', '.join(self.value(o) for o in options)})"

    def set(self, attr: str, value: object) -> Expression:
        self._set.append(f"{self.name(attr)} = {self.value(value)}")
        return self

    def set_default(self, attr: str, value: object) -> Expression:
        """SET `attr` to `value` only where the item has no `attr` yet."""
        name = self.name(attr)
        self._set.append(f"{name} = if_not_exists({name}, {self.value(value)})")
        return self

    def add(self, attr: str, amount: int) -> Expression:
        self._add.append(f"{self.name(attr)} {self.value(amount)}")
        return self

    def remove(self, attr: str) -> Expression:
        self._remove.append(self.name(attr))
        return self

    def update(self, condition: str | None = None) -> dict[str, Any]:
        """Keyword arguments of UpdateItem (or of an Update in a transaction)."""
        clauses = [
            f"{verb} {', '.join(parts)}"
            for verb, parts in (("SET", self._set), ("ADD", self._add), ("REMOVE", self._remove))
            if parts
        ]
        return {"UpdateExpression": " ".join(clauses), **self.condition(condition)}

    def condition(self, condition: str | None) -> dict[str, Any]:
        """Keyword arguments for a condition alone (PutItem, DeleteItem, ConditionCheck)."""
        kwargs: dict[str, Any] = {}
        if condition:
            kwargs["ConditionExpression"] = condition
        if self.names:
            kwargs["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            kwargs["ExpressionAttributeValues"] = dict(self.values)
        return kwargs


# -- session updates ------------------------------------------------------------------------

# Values for a Session's required fields, so that changes can be validated on their own.
SESSION_PLACEHOLDERS = {"id": "-", "provider": "-", "spec": "-"}


def session_update(
    e: Expression, fields: Session, changed: Iterable[str], new: SessionState
) -> Expression:
    """SET the changed fields, the new state and the index attributes that follow from them,
    and bump the revision."""
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


def check_refusal(
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
            raise cannot_move(session_id, current, new)


def cannot_move(session_id: str, current: SessionState, new: SessionState) -> ValueError:
    return ValueError(f"Session {session_id!r} cannot move from {current} to {new}.")
