"""The session proxy's composition root: the one store it reads, picked by the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from skybinder.domain.model import SessionRoute


class ProxyStore(Protocol):
    """The part of the SessionStore the proxy uses, and closing it."""

    def route(self, session_id: str) -> SessionRoute | None: ...

    def record_activity(self, session_id: str, at: float) -> bool: ...

    def close(self) -> None: ...


def proxy_store(data_dir: Path, environ: Mapping[str, str] = os.environ) -> ProxyStore:
    """DynamoDB when SKYBINDER_TABLE_NAME names a table (AWS), else the SQLite store in
    `data_dir` (a local binder's)."""
    from skybinder.adapters.aws.names import ENV_TABLE_NAME

    table = environ.get(ENV_TABLE_NAME, "")
    if table:
        import boto3

        from skybinder.adapters.aws.dynamo_store import DynamoSessionStore

        return DynamoSessionStore(boto3.client("dynamodb"), table)
    from skybinder.adapters.local.sqlite_store import SqliteSessionStore

    return SqliteSessionStore(data_dir / "skybinder.sqlite")
