"""The dead-letter queue (SQS) where EventBridge puts an event it could not deliver, and Lambda
an event whose function failed on every retry: the reaper drains it and replays each event.

Handlers are idempotent and act only on the current server or build, so replaying old or
repeated news is safe. A message is deleted once replayed; one that fails is left for the
next pass, and after MAX_RECEIVES attempts given up with an error in the log (the queue's
depth alarm has told the operator by then).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
BATCH = 10  # ReceiveMessage's limit
MAX_MESSAGES = 100  # per pass: a backlog is worked off over a few minutes, never in one call
MAX_RECEIVES = 5
Replay = Callable[[dict[str, Any]], str]


def dead_event(body: str) -> dict[str, Any] | None:
    """The event a message carries: an EventBridge target's dead letter is the event itself;
    a Lambda on-failure record holds it as its `requestPayload`. None when it is neither."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    payload = message.get("requestPayload", message)
    return payload if isinstance(payload, dict) and "detail-type" in payload else None


class DeadLetters:
    """One SQS queue of dead letters; the client is made on first use (`client()`)."""

    def __init__(self, client: Callable[[], Any], queue_url: str) -> None:
        self._client = client
        self._made: Any = None
        self.queue_url = queue_url

    @property
    def client(self) -> Any:
        if self._made is None:
            self._made = self._client()
        return self._made

    def drain(self, replay: Replay, limit: int = MAX_MESSAGES) -> Counter[str]:
        """Replay what the queue holds now (up to `limit` messages); what was done, by kind."""
        done: Counter[str] = Counter()
        seen: set[str] = set()  # a letter that failed may come round again: once per pass
        while done.total() < limit:
            answer = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=BATCH,
                WaitTimeSeconds=0,
                AttributeNames=["ApproximateReceiveCount"],
            )
            messages = [m for m in answer.get("Messages") or [] if m["MessageId"] not in seen]
            if not messages:
                break
            for message in messages:
                seen.add(message["MessageId"])
                done[self._replay_one(replay, message)] += 1
        return done

    def _replay_one(self, replay: Replay, message: dict[str, Any]) -> str:
        event = dead_event(str(message.get("Body", "")))
        outcome = "unreadable"
        if event is not None:
            try:
                outcome = f"replayed-{replay(event)}"
            except Exception:
                receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
                if receives < MAX_RECEIVES:
                    log.exception("replaying a dead letter failed: it stays for the next pass")
                    return "replay-failed"
                log.exception("a dead letter failed %d replays: giving it up", receives)
                outcome = "given-up"
        else:
            log.error("a dead letter holds no event: %.500s", message.get("Body", ""))
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return outcome
