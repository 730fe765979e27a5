"""Failed bearer authentications are throttled per client address; valid codes never are."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid

import pytest
from django.core.cache import caches
from django.test import Client, RequestFactory

from scim_provisioning.api import throttling
from scim_provisioning.models import ScimRequest

from .conftest import USERS, error

LIMIT = 5
WINDOW = 3600  # long, so that no test straddles the end of a window
THROTTLED = "Too many failed authentication attempts from this address; retry later."
BAD_CODE = "The Provisioning Authentication Code is not valid, or automated user provisioning is not enabled for its organisation."


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.SCIM_AUTH_FAILURE_LIMIT = LIMIT
    settings.SCIM_AUTH_FAILURE_WINDOW_SECONDS = WINDOW


def wrong(code: str) -> str:
    return code[:-1] + ("A" if code[-1] != "A" else "B")


def test_failures_beyond_the_limit_get_429_with_retry_after(organisation, provisioning_code):
    attacker = Client(HTTP_AUTHORIZATION=f"Bearer {wrong(provisioning_code)}", REMOTE_ADDR="203.0.113.7")
    for _ in range(LIMIT):
        assert attacker.get(USERS).status_code == 401

    response = attacker.get(USERS)

    assert response.status_code == 429
    assert response["Content-Type"] == "application/scim+json"
    assert response.json() == error(429, THROTTLED)
    assert 1 <= int(response["Retry-After"]) <= WINDOW
    assert "WWW-Authenticate" not in response
    # Missing and malformed credentials count as failures too.
    assert Client(REMOTE_ADDR="203.0.113.7").get(USERS).status_code == 429
    assert Client(HTTP_AUTHORIZATION="Bearer", REMOTE_ADDR="203.0.113.7").get(USERS).status_code == 429
    assert ScimRequest.objects.count() == 0


def test_other_addresses_are_not_affected(organisation, provisioning_code):
    attacker = Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR="203.0.113.7")
    for _ in range(LIMIT + 3):
        attacker.get(USERS)

    response = Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR="198.51.100.1").get(USERS)

    assert response.status_code == 401
    assert response.json() == error(401, BAD_CODE)


def test_a_valid_code_always_passes_even_from_a_throttled_address(organisation, provisioning_code):
    # Entra ID calls from addresses shared by many tenants: another tenant's wrong code must
    # not stop this organisation.
    address = "20.44.0.1"
    for _ in range(LIMIT + 5):
        Client(HTTP_AUTHORIZATION=f"Bearer {wrong(provisioning_code)}", REMOTE_ADDR=address).get(USERS)
    assert Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR=address).get(USERS).status_code == 429

    entra = Client(HTTP_AUTHORIZATION=f"Bearer {provisioning_code}", REMOTE_ADDR=address)
    statuses = {entra.get(USERS, {"filter": 'userName eq "0b6b6c55-1e0e-4a53-9c0e-2b1b5a3e0c11"'}).status_code for _ in range(200)}

    assert statuses == {200}


def test_entra_rate_from_one_address_is_never_throttled(organisation, provisioning_code, settings):
    settings.SCIM_AUTH_FAILURE_LIMIT = 20
    entra = Client(HTTP_AUTHORIZATION=f"Bearer {provisioning_code}", REMOTE_ADDR="20.44.0.2")

    statuses = [entra.get(USERS, {"filter": f'userName eq "user{i}@contoso.com"'}).status_code for i in range(200)]

    assert statuses == [200] * 200


def test_the_window_ends(organisation, provisioning_code, settings, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(throttling.time, "time", lambda: clock[0])
    attacker = Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR="203.0.113.9")
    for _ in range(LIMIT):
        attacker.get(USERS)
    clock[0] += 15
    response = attacker.get(USERS)
    assert response.status_code == 429
    assert response["Retry-After"] == str(WINDOW - 15 - int(1_000_000 % WINDOW))

    clock[0] += WINDOW
    assert attacker.get(USERS).status_code == 401


def test_limit_zero_turns_the_throttle_off(organisation, settings):
    settings.SCIM_AUTH_FAILURE_LIMIT = 0
    attacker = Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR="203.0.113.7")

    assert {attacker.get(USERS).status_code for _ in range(LIMIT * 3)} == {401}


@pytest.mark.parametrize(
    "proxies, forwarded, remote, expected",
    [
        (0, "198.51.100.1", "10.0.0.1", "10.0.0.1"),  # not trusted: the header is ignored
        (1, "198.51.100.1", "10.0.0.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "10.0.0.1", "198.51.100.1"),  # a forged left part is ignored
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.2", "10.0.0.1", "198.51.100.1"),
        (2, "198.51.100.1", "10.0.0.1", "198.51.100.1"),  # fewer hops than proxies
        (1, " , ", "10.0.0.1", "10.0.0.1"),
        (1, "", "10.0.0.1", "10.0.0.1"),
    ],
)
def test_client_address(settings, proxies, forwarded, remote, expected):
    settings.SCIM_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get(USERS, HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)

    assert throttling.client_address(request) == expected


def test_forwarded_address_is_throttled_behind_a_trusted_proxy(organisation, settings):
    settings.SCIM_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    for index in range(LIMIT):
        # A caller varying its own X-Forwarded-For claim still lands on the proxy's entry.
        Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"1.1.1.{index}, 203.0.113.7").get(USERS)

    blocked = Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    other = Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert blocked.get(USERS).status_code == 429
    assert other.get(USERS).status_code == 401


def test_an_unreachable_cache_never_turns_into_an_error(organisation, provisioning_code, settings, caplog):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    try:
        assert Client(HTTP_AUTHORIZATION="Bearer nope").get(USERS).status_code == 401
        assert Client(HTTP_AUTHORIZATION=f"Bearer {provisioning_code}").get(USERS).status_code == 200
    finally:
        caches["default"].close()
    assert "Could not count a failed SCIM authentication in the cache" in caplog.text


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


RECORD_FAILURES = """
import json, sys
import django
django.setup()
from django.test import RequestFactory
from scim_provisioning.api.throttling import authentication_failure_record
request = RequestFactory().get("/", REMOTE_ADDR=sys.argv[1])
print(json.dumps([authentication_failure_record(request) for _ in range(int(sys.argv[2]))]))
"""


@pytest.mark.skipif(not _redis_reachable(), reason="needs Redis on 127.0.0.1:6379")
def test_app_processes_share_the_count_through_redis(organisation, settings):
    """Two separate processes and this one, each with its own Redis client, add up to one count."""
    location = "redis://127.0.0.1:6379/0"
    address = f"198.18.{uuid.uuid4().int % 256}.{uuid.uuid4().hex}"  # unique: keys expire by themselves
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prompt_site.settings",
        "DEBUG": "true",
        "CACHE_URL": location,
        "SCIM_AUTH_FAILURE_LIMIT": "20",
        "SCIM_AUTH_FAILURE_WINDOW_SECONDS": "86400",
    }
    environment.pop("DATABASE_URL", None)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RECORD_FAILURES, address, "10"],
            env=environment,
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    # Twenty failures between them: each stayed within the limit of twenty.
    assert [json.loads(output) for output in outputs] == [[None] * 10, [None] * 10]

    settings.SCIM_AUTH_FAILURE_LIMIT = 20
    settings.SCIM_AUTH_FAILURE_WINDOW_SECONDS = 86400
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}}
    try:
        response = Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR=address).get(USERS)
        other = Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR=f"{address}-other").get(USERS)
    finally:
        caches["default"].close()

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 86400
    assert other.status_code == 401
