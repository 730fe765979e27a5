"""Entra-shaped SCIM traffic from a fixed number of keep-alive HTTP clients on 127.0.0.1.

Each client is a thread with its own ``http.client.HTTPConnection``; gunicorn's sync workers
close the connection after every response, and the client then reconnects, as Entra's would.
Every phase is bounded both by time and by a request count.
"""
from __future__ import annotations

import http.client
import itertools
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

USERS_PATH = "/api/authentication/scim/Users"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_REQUESTS_PER_PHASE = 2_000_000
TIMEOUT_SECONDS = 60


@dataclass
class Sample:
    """One request: its kind, status, latency, and whether the phase expected that status."""

    kind: str
    status: int
    seconds: float
    ok: bool


@dataclass
class PhaseResult:
    phase: str
    operations: int
    elapsed: float
    samples: list[Sample] = field(default_factory=list)
    # PATCHes that found the user already in the requested state (the pool wrapped round).
    repeats: int = 0
    # CPU used by this load generator, as a share of one core: the clients share the machine.
    client_cpu: float = 0.0


class Client:
    """One keep-alive connection to the server under test."""

    def __init__(self, port: int, code: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
        self.headers = {
            "Authorization": f"Bearer {code}",
            "Accept": "application/scim+json",
            "Content-Type": "application/scim+json; charset=utf-8",
            "Connection": "keep-alive",
        }

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, float, bytes]:
        payload = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=payload, headers=self.headers)
            response = self.connection.getresponse()
            data = response.read()
            status = response.status
        except (ConnectionError, http.client.HTTPException, TimeoutError):
            self.connection.close()
            status, data = 0, b""
        return status, time.perf_counter() - started, data

    def close(self) -> None:
        self.connection.close()


def lookup_path(user_name: str) -> str:
    # Entra's encoding: spaces as "+", quotes as %22.
    return f"{USERS_PATH}?filter=" + quote(f'userName eq "{user_name}"', safe="").replace("%20", "+")


def new_user_body(user_name: str) -> dict:
    """Entra's POST /Users body for a new user, with the default mappings populated."""
    local = user_name.split("@")[0]
    return {
        "schemas": [CORE, ENTERPRISE],
        "externalId": local,
        "userName": user_name,
        "active": True,
        "displayName": f"Bench {local}",
        "title": "Analyst",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"Bench {local}", "familyName": local, "givenName": "Bench"},
        ENTERPRISE: {"employeeNumber": local, "department": "Operations"},
        "roles": [],
    }


def legacy_patch(*operations: tuple[str, str]) -> dict:
    """Entra's default (legacy) PATCH: capitalised ``Replace`` and booleans as strings."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": path, "value": value} for path, value in operations],
    }


def compliant_patch(display_name: str) -> dict:
    """Entra's compliant PATCH (``aadOptscim062020``): lowercase ops, booleans, a path-less value."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "path": "active", "value": True},
            {"op": "replace", "value": {"displayName": display_name, "name.givenName": "Bench"}},
        ],
    }


def _total_results(data: bytes) -> int | None:
    try:
        return json.loads(data).get("totalResults")
    except (ValueError, AttributeError):
        return None


def run_phase(
    *,
    phase: str,
    port: int,
    code: str,
    clients: int,
    duration: float,
    sample: list[tuple[str, str]],
    label: str,
    max_operations: int = MAX_REQUESTS_PER_PHASE,
) -> PhaseResult:
    """Drive one phase with ``clients`` threads for ``duration`` seconds (or ``max_operations``)."""
    deadline = time.perf_counter() + duration
    budget = itertools.count()
    results: list[list[Sample]] = [[] for _ in range(clients)]
    operations = [0] * clients
    repeats = [0] * clients
    run = uuid.uuid4().hex[:8]

    def worker(index: int) -> None:
        client = Client(port, code)
        out = results[index]
        # Each client works through its own slice of the sample so no two PATCH one user at once.
        own = sample[index::clients] or sample
        seen: set[str] = set()
        try:
            for n in itertools.count():
                if time.perf_counter() >= deadline or next(budget) >= max_operations:
                    break
                user_name, scim_id = own[n % len(own)]
                if phase == "create":
                    new_name = f"new-{label}-{run}-{index}-{n}@bench.example"
                    status, seconds, data = client.request("GET", lookup_path(new_name))
                    out.append(Sample("lookup (miss)", status, seconds, status == 200 and _total_results(data) == 0))
                    status, seconds, _ = client.request("POST", USERS_PATH, new_user_body(new_name))
                    out.append(Sample("POST", status, seconds, status == 201))
                elif phase == "lookup":
                    status, seconds, data = client.request("GET", lookup_path(user_name))
                    out.append(Sample("lookup (hit)", status, seconds, status == 200 and _total_results(data) == 1))
                elif phase == "get":
                    status, seconds, _ = client.request("GET", f"{USERS_PATH}/{scim_id}")
                    out.append(Sample("GET by id", status, seconds, status == 200))
                elif phase == "patch":
                    body = legacy_patch(("displayName", f"Bench {label} {n}"), ("active", "True"))
                    status, seconds, _ = client.request("PATCH", f"{USERS_PATH}/{scim_id}", body)
                    out.append(Sample("PATCH", status, seconds, status in (200, 204)))
                elif phase == "patch-compliant":
                    body = compliant_patch(f"Bench {label} {n}")
                    status, seconds, _ = client.request("PATCH", f"{USERS_PATH}/{scim_id}", body)
                    out.append(Sample("PATCH compliant", status, seconds, status in (200, 204)))
                elif phase == "deactivate":
                    if scim_id in seen:
                        repeats[index] += 1
                    seen.add(scim_id)
                    status, seconds, _ = client.request(
                        "PATCH", f"{USERS_PATH}/{scim_id}", legacy_patch(("active", "False"))
                    )
                    out.append(Sample("PATCH active False", status, seconds, status in (200, 204)))
                else:
                    raise ValueError(f"unknown phase {phase!r}")
                operations[index] += 1
        finally:
            client.close()

    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + TIMEOUT_SECONDS * 2 + 5)
    elapsed = time.perf_counter() - started
    client_cpu = (_cpu_seconds() - cpu_started) / elapsed if elapsed else 0.0
    return PhaseResult(
        phase=phase,
        operations=sum(operations),
        elapsed=elapsed,
        samples=[s for out in results for s in out],
        repeats=sum(repeats),
        client_cpu=client_cpu,
    )


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * fraction // 1))
    return sorted_values[int(rank) - 1]


def merge(results: list[PhaseResult]) -> PhaseResult:
    """Combine the slices of one phase against one server."""
    elapsed = sum(r.elapsed for r in results)
    return PhaseResult(
        phase=results[0].phase,
        operations=sum(r.operations for r in results),
        elapsed=elapsed,
        samples=[s for r in results for s in r.samples],
        repeats=sum(r.repeats for r in results),
        client_cpu=sum(r.client_cpu * r.elapsed for r in results) / elapsed if elapsed else 0.0,
    )
