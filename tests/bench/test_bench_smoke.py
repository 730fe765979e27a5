"""The SCIM benchmark runs end to end at a tiny size, so it keeps working as the code changes.

It needs a PostgreSQL server (``BENCH_POSTGRES_URL``, default the local one) and creates and drops
its own database there, whichever database the rest of the suite runs on.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/")
PHASES = ["create", "lookup", "get", "patch", "deactivate"]
REQUEST_KINDS = {
    "create": {"lookup (miss)", "POST"},
    "lookup": {"lookup (hit)"},
    "get": {"GET by id"},
    "patch": {"PATCH"},
    "deactivate": {"PATCH active False"},
}


def _admin_connection():
    import psycopg

    from bench.scim_bench import database_url

    url = database_url(SERVER_URL, "postgres").replace("postgres://", "postgresql://", 1)
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


@pytest.fixture
def postgres_server():
    import psycopg

    try:
        _admin_connection().close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at {SERVER_URL}: {exc}")


def test_benchmark_runs_end_to_end_and_cleans_up(postgres_server):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env["BENCH_POSTGRES_URL"] = SERVER_URL
    completed = subprocess.run(
        [
            sys.executable, "-m", "bench.scim_bench",
            "--users", "200", "--duration", "0.6", "--rounds", "1", "--clients", "4", "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-4000:] + completed.stdout[-4000:]
    report = json.loads(completed.stdout)

    assert report["run"]["users"] == 200
    assert report["run"]["second_organisation_users"] == 20
    assert report["run"]["template_through"] == "the site's SCIM endpoint"
    assert list(report["phases"]) == PHASES
    for phase in PHASES:
        for server in ("reference", "site"):
            summary = report["phases"][phase][server]
            assert summary["operations"] > 0, (phase, server)
            assert set(summary["requests"]) == REQUEST_KINDS[phase], (phase, server)
            for kind, stats in summary["requests"].items():
                assert stats["errors"] == 0, (phase, server, kind, stats)
                assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"], (phase, server, kind)
        assert report["ratios"][phase] > 0
    kinds = ["lookup (hit)", "lookup (miss)", "GET by id", "POST", "PATCH", "PATCH active False"]
    for server in ("reference", "site"):
        counts = report["queries"][server]
        assert list(counts) == kinds
        assert all(200 <= counts[kind]["status"] < 300 and counts[kind]["queries"] >= 1 for kind in kinds), counts
    assert [report["queries"]["reference"][kind]["queries"] for kind in kinds] == [1, 1, 1, 4, 4, 5]
    for server in ("reference", "site"):
        assert len(report["memory"][server]["rss_mb"]) == 2
        assert all(0 < size < 1024 for size in report["memory"][server]["rss_mb"])

    with _admin_connection() as connection:
        left = connection.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", [report["run"]["database"]]
        ).fetchone()[0]
    assert left == 0
