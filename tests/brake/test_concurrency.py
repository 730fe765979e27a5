"""The brake counts right with two app processes and concurrent requests (SQLite file and PostgreSQL)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.deployment import USERS
from tests.scim_api.conftest import entra_user

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PEOPLE = 20
LIMIT = 7


def call(server: str, code: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{server}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {code}", "Content-Type": "application/scim+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def deactivate_all(deployment, code: str, ids: list[str]) -> list[int]:
    """PATCH active false for every id at once, alternating between the two processes."""
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        futures = [
            pool.submit(call, deployment.servers[index % 2], code, "PATCH", f"{USERS}/{scim_id}", body)
            for index, scim_id in enumerate(ids)
        ]
        return [future.result()[0] for future in futures]


def test_twenty_concurrent_deactivations_from_two_processes_hold_exactly_the_excess_then_release(deployment):
    code = deployment.issue_code("--revoke-previous")
    ids = []
    for n in range(PEOPLE):
        status, body = call(deployment.servers[n % 2], code, "POST", USERS, entra_user(f"wave{n}@demo.example"))
        assert status == 201, body
        ids.append(body["id"])
    # Fifty per cent of the demo's people is more than seven: the absolute limit decides.
    deployment.manage("provisioning_brake", "set", "--organisation", "demo", "--people", str(LIMIT), "--percent", "50")

    statuses = deactivate_all(deployment, code, ids)

    assert sorted(statuses) == [200] * LIMIT + [429] * (PEOPLE - LIMIT)
    status = json.loads(deployment.manage("provisioning_brake", "status", "--organisation", "demo", "--json"))
    demo = status["organisations"][0]
    assert (demo["engaged"], demo["held"], demo["attempted"]) == (True, PEOPLE - LIMIT, PEOPLE)
    held = {person["userName"] for person in demo["held_people"]}
    assert len(held) == PEOPLE - LIMIT
    # Creates and updates are never held, in either process.
    for server in deployment.servers:
        status_code, _ = call(server, code, "POST", USERS, entra_user(f"late.{server[-5:]}@demo.example"))
        assert status_code == 201
        rename = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "displayName", "value": "Renamed"}]}
        assert call(server, code, "PATCH", f"{USERS}/{ids[0]}", rename)[0] == 200

    released = deployment.manage("provisioning_brake", "release", "--organisation", "demo")
    assert f"Released {PEOPLE - LIMIT} held deactivation(s) of demo" in released

    # Entra's retries of the held ones all go through, concurrently, in both processes.
    held_ids = [scim_id for scim_id, answer in zip(ids, statuses, strict=True) if answer == 429]
    assert deactivate_all(deployment, code, held_ids) == [200] * len(held_ids)
    for scim_id in ids:
        assert call(deployment.servers[0], code, "GET", f"{USERS}/{scim_id}")[1]["active"] is False
    after = json.loads(deployment.manage("provisioning_brake", "status", "--organisation", "demo", "--json"))
    assert (after["organisations"][0]["engaged"], after["organisations"][0]["held"]) == (False, 0)
