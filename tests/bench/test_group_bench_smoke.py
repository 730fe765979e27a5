"""The group membership benchmark runs end to end at a tiny size and cleans up after itself.

Like the SCIM benchmark's smoke test, it needs a PostgreSQL server (``BENCH_POSTGRES_URL``).
"""
import json
import os
import subprocess
import sys

from tests.bench.test_bench_smoke import ROOT, SERVER_URL, _admin_connection, postgres_server  # noqa: F401


def test_group_benchmark_runs_end_to_end_and_cleans_up(postgres_server):  # noqa: F811
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env["BENCH_POSTGRES_URL"] = SERVER_URL
    completed = subprocess.run(
        [sys.executable, "-m", "bench.group_bench", "--group-size", "150", "--cap", "50", "--repeats", "2", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout)
    assert report["stored_members"] == 150
    assert report["run"]["cap"] == 50
    for server in ("site", "floor"):
        result = report[server]
        assert result["build_patches"] == 3
        assert all(result[key] > 0 for key in ("cap_add_ms", "cap_remove_ms", "build_total_ms", "single_member_ms"))
    assert set(report["ratios"]) == {"cap_add", "cap_remove", "build_total", "single_member"}
    assert all(ratio > 0 for ratio in report["ratios"].values())
    name = next(line.split()[-1] for line in completed.stderr.splitlines() if line.startswith("Dropped database"))
    with _admin_connection() as connection:
        assert connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None
