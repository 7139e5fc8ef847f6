"""Outbound webhooks for stored results: which subscribers get which verdicts, delivered off the request path.

Each (result, webhook) pair becomes one delivery row (`pending`) before anything is sent, so a delivery survives
a restart: `start()` re-queues every pending row. Background threads send them with `WebhookSender` (signed,
retried with backoff, the same delivery id on every try) and record each attempt; a delivery ends `delivered`
or `dead` (dead-lettered, listed by `assetscreen webhooks deliveries --status dead`).
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
from dataclasses import replace
from typing import Any

from service.settings import WebhookSettings
from service.store import Delivery, ResultRecord, Store, stamp
from service.webhooks import WebhookSender

log = logging.getLogger(__name__)


def event_payload(rec: ResultRecord) -> dict[str, Any]:
    """What a subscriber receives: enough to act on, not the whole evidence (GET /v1/results/{id} has that)."""
    return {
        "event": f"result.{rec.decision}",
        "result_id": rec.id,
        "post_id": rec.post_id,
        "decision": rec.decision,
        "score": rec.score,
        "created_at": rec.created_at,
        "policy_version": rec.policy_version,
        "findings": [
            {"rule_id": f["rule_id"], "decision": f["decision"], "citation": f["citation"]}
            for f in rec.verdict.get("findings", [])
        ],
    }


class Notifier:
    def __init__(
        self, store: Store, settings: WebhookSettings, sender: WebhookSender | None = None, threads: int = 2
    ) -> None:
        self.store = store
        self.settings = settings
        self.sender = sender or WebhookSender(
            max_attempts=settings.max_attempts,
            base_delay_s=settings.base_delay_s,
            max_delay_s=settings.max_delay_s,
            timeout_s=settings.timeout_s,
        )
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._threads = threads
        self._workers: list[threading.Thread] = []

    def start(self) -> None:
        for d in self.store.list_deliveries(status="pending", limit=100_000):
            self._queue.put(d)
        for i in range(self._threads):
            t = threading.Thread(target=self._run, name=f"webhooks-{i}", daemon=True)
            t.start()
            self._workers.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        for _ in self._workers:
            self._queue.put(None)
        for t in self._workers:
            t.join(timeout)
        self._workers.clear()

    def wait_idle(self) -> None:
        """Block until every queued delivery has finished (tests, orderly shutdown)."""
        self._queue.join()

    def __call__(self, rec: ResultRecord) -> None:
        event = f"result.{rec.decision}"
        if event not in self.settings.events:
            return
        for hook in self.store.list_webhooks():
            if not hook.active or (hook.events and event not in hook.events):
                continue
            now = stamp()
            d = Delivery(
                id=f"{rec.id}.{hook.id}", webhook_id=hook.id, event=event, payload=event_payload(rec),
                created_at=now, updated_at=now,
            )
            self.store.save_delivery(d)
            self._queue.put(d)

    def _run(self) -> None:
        while True:
            d = self._queue.get()
            try:
                if d is None:
                    return
                self._deliver(d)
            except Exception:  # one bad delivery must not stop the thread; it stays pending for the next start
                log.exception("webhook delivery %s failed unexpectedly", d.id if d else "?")
            finally:
                self._queue.task_done()

    def _deliver(self, d: Delivery) -> None:
        hooks = {h.id: h for h in self.store.list_webhooks()}
        hook = hooks.get(d.webhook_id)
        if hook is None:
            self.store.save_delivery(replace(d, status="dead", last_error="webhook removed", updated_at=stamp()))
            return
        state = {"d": d}

        def on_attempt(delivery_id: str, attempt: int, status: int | None, error: str) -> None:
            state["d"] = replace(state["d"], attempts=attempt, last_status=status, last_error=error,
                                 updated_at=stamp())
            self.store.save_delivery(state["d"])

        sender = copy.copy(self.sender)  # the same transport and backoff, reporting to this delivery's row
        sender.on_attempt = on_attempt
        result = sender.deliver(hook.url, hook.secret, d.event, d.payload, d.id)
        self.store.save_delivery(replace(state["d"], status=result.status, attempts=result.attempts,
                                         last_status=result.last_status, last_error=result.last_error,
                                         updated_at=stamp()))
        if result.status == "dead":
            log.warning("webhook delivery %s to %s dead after %d attempts: %s", d.id, hook.url, result.attempts,
                        result.last_error or result.last_status)

