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
PHASES = ["create", "lookup", "get", "patch", "patch-compliant", "deactivate"]
REQUEST_KINDS = {
    "create": {"lookup (miss)", "POST"},
    "lookup": {"lookup (hit)"},
    "get": {"GET by id"},
    "patch": {"PATCH"},
    "patch-compliant": {"PATCH compliant"},
    "deactivate": {"PATCH active False"},
}
VARIANT = "site SCIM_ACTIVITY_QUEUED=false"
SERVERS = ("floor", "site", VARIANT)
COUNTED = ["lookup (hit)", "lookup (miss)", "GET by id", "POST", "PATCH", "PATCH compliant", "PATCH active False"]


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
            "--variant", "SCIM_ACTIVITY_QUEUED=false",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-4000:] + completed.stdout[-4000:]
    document = json.loads(completed.stdout)
    [report] = document["sizes"]

    assert report["run"]["users"] == 200
    assert report["run"]["second_organisation_users"] == 20
    assert report["run"]["template_through"] == "the site's SCIM endpoint"
    assert list(report["phases"]) == PHASES
    for phase in PHASES:
        assert tuple(report["phases"][phase]) == SERVERS
        for server in SERVERS:
            summary = report["phases"][phase][server]
            assert summary["operations"] > 0, (phase, server)
            assert set(summary["requests"]) == REQUEST_KINDS[phase], (phase, server)
            for kind, stats in summary["requests"].items():
                assert stats["errors"] == 0, (phase, server, kind, stats)
                assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"], (phase, server, kind)
        assert report["ratios"][phase] > 0 and report["p99_ratios"][phase] > 0
        assert report["variants"][VARIANT]["ratios"][phase] > 0
    for server in ("floor", "site"):
        counts = report["queries"][server]
        assert list(counts) == COUNTED
        assert all(200 <= counts[kind]["status"] < 300 and counts[kind]["queries"] >= 1 for kind in COUNTED), counts
        assert all(not counts[kind]["sequential_scans"] for kind in COUNTED), counts
    # The floor: one indexed query to read, the uniqueness check and INSERT to create, a locked
    # read and an UPDATE (two for a deactivation) to PATCH, inside BEGIN and COMMIT.
    assert [report["queries"]["floor"][kind]["queries"] for kind in COUNTED] == [1, 1, 1, 5, 4, 4, 5]
    for server in SERVERS:
        assert len(report["memory"][server]["rss_mb"]) == 2
        assert all(0 < size < 1024 for size in report["memory"][server]["rss_mb"])
    assert list(document["summary"]) == PHASES
    assert all(document["summary"][phase]["users"] == [200] for phase in PHASES)
    assert all(document["summary"][phase]["drift"] == 0 for phase in PHASES)  # a single size drifts nowhere

    with _admin_connection() as connection:
        left = connection.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", [report["run"]["database"]]
        ).fetchone()[0]
    assert left == 0


def test_the_text_report_states_every_target_and_the_drift_between_sizes():
    from bench.scim_bench import PHASES as BENCH_PHASES, TARGET_RATIO, render, summarise_sizes

    def size(users: int, site: float) -> dict:
        phases = {
            phase: {
                server: {
                    "operations": 10, "ops_per_s": ops, "repeats": 0, "client_cpu_pct": 5,
                    "requests": {"r": {"count": 10, "per_s": ops, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0,
                                       "errors": 0, "error_statuses": []}},
                }
                for server, ops in (("floor", 100.0), ("site", site))
            }
            for phase in BENCH_PHASES
        }
        return {
            "run": {"users": users, "second_organisation_users": users // 10, "seeded_rows": users, "clients": 8,
                    "workers": 2, "duration_s": 6, "rounds": 3, "load_average_at_start": [0.0], "database": "d",
                    "migrate_s": 1.0, "seed_s": 1.0},
            "queries": {}, "phases": phases, "ratios": {p: site / 100 for p in BENCH_PHASES},
            "p99_ratios": {p: 1.0 for p in BENCH_PHASES}, "variants": {}, "memory": {},
        }

    reports = [size(1_000, 80.0), size(1_000_000, 60.0)]
    summary = summarise_sizes(reports)
    assert summary["lookup"]["drift"] == 0.25 and summary["lookup"]["ratio"] == [0.8, 0.6]
    text = render({"sizes": reports, "summary": summary})
    assert "lookup           throughput  0.80 (target >= 0.75: met)" in text
    assert "lookup           throughput  0.60 (target >= 0.75: NOT met)" in text
    assert f"create           throughput  0.60 (target >= {TARGET_RATIO['create']}: met)" in text
    assert "25% (NOT met)" in text
