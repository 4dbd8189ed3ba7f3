"""A build's log in CloudWatch Logs, read page by page with CloudWatch's own tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skybinder.adapters.aws.client_errors import is_client_error
from skybinder.service.ports import LogChunk

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

TAIL_LINES = 200  # what a reader who joins a running build sees of what came before


class BuildLogs:
    """The log streams CodeBuild writes for a project's builds, in one log group.

    A first read (no cursor) returns the last `tail` lines; its cursor (CloudWatch's forward
    token) then yields only newer lines, so a late joiner gets the tail and then what follows.
    """

    def __init__(
        self,
        client: CloudWatchLogsClient,
        group: str,
        stream_prefix: str = "",
        tail: int = TAIL_LINES,
    ) -> None:
        self.client = client
        self.group = group
        self.stream_prefix = stream_prefix.strip("/")
        self.tail = tail

    def stream(self, build_id: str) -> str:
        """CodeBuild names a build's stream after the id's last part (`<project>:<uuid>`),
        under the project's stream prefix when it has one."""
        uuid = build_id.rsplit(":", 1)[-1]
        return f"{self.stream_prefix}/{uuid}" if self.stream_prefix else uuid

    def read(self, build_id: str, cursor: str | None = None) -> LogChunk:
        args: dict[str, Any] = {"logGroupName": self.group, "logStreamName": self.stream(build_id)}
        if cursor:
            args.update(nextToken=cursor, startFromHead=True)
        else:
            args.update(startFromHead=False, limit=self.tail)
        try:
            page = self.client.get_log_events(**args)
        except Exception as err:
            # The stream appears only once the build has started (CodeBuild takes a minute or
            # more to provision): until then there is nothing to read, which is no error.
            if is_client_error(err, "ResourceNotFoundException"):
                return LogChunk(lines=[], cursor=cursor)
            raise
        lines = [str(event.get("message", "")) for event in page.get("events", [])]
        return LogChunk(lines=lines, cursor=page.get("nextForwardToken") or cursor)
