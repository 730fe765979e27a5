"""Inserts SCIM request records in batches from a background thread of each app process.

A request only queues its record, so it neither waits for an INSERT nor pays for one of its
own: the thread inserts whatever has queued up meanwhile in one statement, through the
activity connection (``SCIM_ACTIVITY_DATABASE``). Records still queued when the process is
killed are lost (those of the last fraction of a second); a normal exit inserts them first.
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time

from django.db import connections

from ..api.metrics import ACTIVITY_DROPPED, ACTIVITY_QUEUE_DEPTH
from ..models import ScimRequest

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
# How long the thread lets records gather after the first: under load one INSERT then carries
# many, and the thread wakes a few times a second instead of once a request.
GATHER_SECONDS = 0.2
# Bounds the memory a stalled database can make a process hold; beyond it records are dropped.
QUEUE_LIMIT = 10_000
EXIT_TIMEOUT_SECONDS = 5


class ActivityWriter:
    """One process's queue of records and the thread that inserts them."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.pid = os.getpid()
        self.dropped = 0
        self._queue: queue.Queue[ScimRequest | threading.Event] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._run, name="scim-activity-writer", daemon=True)
        self._thread.start()
        atexit.register(self.flush, timeout=EXIT_TIMEOUT_SECONDS)

    def put(self, record: ScimRequest) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1  # logged by the thread, so a stalled database does not flood the log
            ACTIVITY_DROPPED.inc()
        else:
            ACTIVITY_QUEUE_DEPTH.inc()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record queued so far has been inserted (or failed); return whether it was."""
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            time.sleep(GATHER_SECONDS)
            while len(items) < BATCH_SIZE:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [item for item in items if isinstance(item, ScimRequest)]
            if records:
                self._insert(records)
                ACTIVITY_QUEUE_DEPTH.dec(len(records))
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()  # a flush() waiting for the records queued before it

    def _insert(self, batch: list[ScimRequest]) -> None:
        connection = connections[self.alias]
        try:
            ScimRequest.objects.using(self.alias).bulk_create(batch)
        except Exception:
            logger.exception("Could not record %d SCIM requests", len(batch))
            connection.close()  # the next batch starts on a fresh connection
        # The request cycle's CONN_MAX_AGE, without its health check (an INSERT that fails is
        # handled above, and the check would double the thread's round trips).
        if connection.close_at is not None and time.monotonic() >= connection.close_at:
            connection.close()
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            logger.error("Dropped %d SCIM request records: the queue was full", dropped)


_writer: ActivityWriter | None = None
_lock = threading.Lock()


def activity_writer(alias: str) -> ActivityWriter:
    """Return this process's writer for the alias, starting it (again after a fork) if needed."""
    global _writer
    with _lock:
        if _writer is None or _writer.pid != os.getpid() or _writer.alias != alias:
            _writer = ActivityWriter(alias)
        return _writer
