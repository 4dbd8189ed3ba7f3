"""The session proxy's reads and writes on the DynamoDB table: a session's route, read with a
projection, and its last activity, set by an UpdateItem that leaves the revision alone (so a
transition that read the session before still commits) and never moves time backwards."""

from __future__ import annotations

from skybinder.adapters.aws import names as n
from skybinder.adapters.aws.dynamo_items import Expression, python, session_key
from skybinder.adapters.aws.dynamo_table import ConditionFailed, DynamoTable
from skybinder.domain.model import ACTIVE, SessionRoute

_FIELDS = ("id", "state", "address", "provider", "spec", "event", "reason")
_ACTIVE = sorted(state.value for state in ACTIVE)
LAST_ACTIVITY = "last_activity"


def route(table: DynamoTable, session_id: str) -> SessionRoute | None:
    """The session's route (one strongly consistent GetItem of a few attributes), or None."""
    e = Expression()
    projection = ", ".join(e.name(field) for field in _FIELDS)
    out = table.client.get_item(
        TableName=table.name,
        Key=session_key(session_id),
        ConsistentRead=True,
        ProjectionExpression=projection,
        ExpressionAttributeNames=e.names,
    )
    item = out.get("Item")
    if item is None:
        return None
    return SessionRoute.model_validate({k: python(v) for k, v in item.items()})


def record_activity(table: DynamoTable, session_id: str, at: float) -> bool:
    """Set `last_activity` of an active session to `at` unless it holds a later time."""
    e = Expression().set(LAST_ACTIVITY, float(at))
    activity, moment = e.name(LAST_ACTIVITY), e.value(float(at))
    null = e.value("NULL")  # a session written whole stores "none yet" as a NULL attribute
    condition = (
        f"attribute_exists({e.name(n.PARTITION_KEY)}) AND {e.one_of('state', _ACTIVE)}"
        f" AND (attribute_not_exists({activity}) OR attribute_type({activity}, {null})"
        f" OR {activity} < {moment})"
    )
    try:
        table.update(session_key(session_id), e, condition, new=False)  # a write, read nothing
    except ConditionFailed:
        return False
    return True
