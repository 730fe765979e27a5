"""Prometheus metrics of the SCIM API: requests by method, outcome and kind, their latency, and the
activity writer's queue.

No label names an organisation, a user or a code: a metric's cardinality stays fixed however
many tenants the site serves. With several gunicorn workers, set ``PROMETHEUS_MULTIPROC_DIR``
(see README, Production) so that ``/metrics`` adds up every worker's counts.
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# What a request did, for the ``kind`` label.
LOOKUP, LIST, READ, CREATE, UPDATE, DEACTIVATE, DELETE, DISCOVERY, OTHER = (
    "lookup", "list", "read", "create", "update", "deactivate", "delete", "discovery", "other"
)

REQUESTS = Counter(
    "prompt_scim_requests",
    "SCIM requests answered, by method, outcome (2xx, 4xx, 429, 5xx) and kind.",
    ["method", "outcome", "kind"],
)
LATENCY = Histogram(
    "prompt_scim_request_duration_seconds",
    "Time to answer a SCIM request, by kind.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Records waiting in the processes' activity writers (summed over the live workers), and those
# dropped because a stalled database let a queue fill up.
ACTIVITY_QUEUE_DEPTH = Gauge(
    "prompt_scim_activity_queue_depth",
    "SCIM request records queued for the activity writer, not yet inserted.",
    multiprocess_mode="livesum",
)
ACTIVITY_DROPPED = Counter(
    "prompt_scim_activity_dropped_records",
    "SCIM request records dropped because the activity writer's queue was full.",
)


def outcome_of(status: int) -> str:
    if status == 429:
        return "429"
    return f"{min(status // 100, 5)}xx"


def scim_request_observe(*, method: str, status: int, kind: str, seconds: float) -> None:
    """Count one answered SCIM request."""
    REQUESTS.labels(method=method, outcome=outcome_of(status), kind=kind).inc()
    LATENCY.labels(kind=kind).observe(seconds)
