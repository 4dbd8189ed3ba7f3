"""Structured log lines: one JSON object per event, so a log service can filter on fields."""

from __future__ import annotations

import json
import logging


def log_event(logger: logging.Logger, level: int, event: str, **fields: object) -> None:
    """Log `{"event": event, **fields}` as one JSON line (when `level` is enabled)."""
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps({"event": event, **fields}, default=str))


class JsonLines(logging.Formatter):
    """Every record as one JSON object: time, level, logger and the message (which is a JSON
    object itself for log_event lines, merged in)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        try:
            fields = json.loads(message)
        except ValueError:
            fields = None
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["message"] = message
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
