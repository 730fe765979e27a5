"""Running SCIM requests at the same moment from several threads, each with its own connection."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections

T = TypeVar("T")


def run_concurrently(calls: list[Callable[[], T]], *, timeout: float = 60) -> list[T]:
    """Run each call in its own thread, released together by a barrier; return results in order.

    Every thread opens its own database connections (Django's are per thread) and closes them
    when done, so the calls really are separate sessions of the database server.
    """
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    failures: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call()
        except BaseException as exc:  # re-raised in the calling thread below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a concurrent request did not finish"
    if failures:
        raise failures[0]
    return results
