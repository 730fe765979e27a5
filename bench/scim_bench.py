"""Benchmark the SCIM Users endpoint as Entra ID uses it, against a floor: the least Django can do.

    python -m bench.scim_bench --users 1000,100000,1000000 --duration 6 [--keep-db] [--json]

For each size, creates a fresh PostgreSQL database, migrates it, seeds that many provisioned
users in one organisation (and a tenth as many in a second one) with COPY, serves the site with
gunicorn as in production (Redis cache, persistent connections) and, beside it, the floor: a
minimal Django project of its own (``bench/floor``: no middleware, no DRF, one indexed query or
write per request); then drives each phase of Entra's traffic at both from 8 keep-alive clients
over 127.0.0.1, in alternating slices, and reports requests/s, latency percentiles, the site's
throughput and p99 as ratios to the floor's, the SQL queries per request type and the workers'
resident memory; last, how the site's throughput holds from the smallest size to the largest.
Each database is dropped at the end.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from . import load

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/"
PHASES = ("create", "lookup", "get", "patch", "patch-compliant", "deactivate")
# Targets per phase: the site's throughput as a share of the floor's, its p99 as a multiple of
# the floor's p99 at most, and how far its throughput may drift between the sizes.
TARGET_RATIO = {"create": 0.6, "lookup": 0.75, "get": 0.75, "patch": 0.6, "patch-compliant": 0.6, "deactivate": 0.6}
TARGET_P99_RATIO = 1.5
TARGET_FLATNESS = 0.15
SECOND_ORGANISATION_SHARE = 10
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- PostgreSQL ------------------------------------------------------------------------------
def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def admin_connection(server_url: str):
    import psycopg

    url = database_url(server_url, "postgres").replace("postgres://", "postgresql://", 1)
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise SystemExit(
            f"PostgreSQL is not reachable at {server_url} ({exc}). Start it, or point BENCH_POSTGRES_URL "
            "(or --postgres-url) at a server where this user may create databases."
        ) from exc


def create_database(server_url: str, name: str) -> None:
    from psycopg import sql

    with admin_connection(server_url) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server_url: str, name: str) -> None:
    from psycopg import sql

    with admin_connection(server_url) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- Environment and servers -----------------------------------------------------------------
def production_environment(db_url: str, static_root: Path, cache_url: str) -> dict[str, str]:
    """The site's production settings, with this run's secrets, Redis and persistent connections."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="prompt_site.settings",
        DATABASE_URL=db_url,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        PROVISIONING_CODE_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        CONN_MAX_AGE="60",
        CACHE_URL=cache_url,
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        LOG_LEVEL="ERROR",
        STATIC_ROOT=str(static_root),
        PYTHONUNBUFFERED="1",
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                # The parent pid is the second field after the parenthesised command name.
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    pids.append(int(entry.name))
        return sorted(pids)

    def worker_rss_mb(self) -> list[float]:
        sizes = []
        for pid in self.worker_pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(round(int(line.split()[1]) / 1024, 1))
            except OSError:
                continue
        return sizes

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_server(*, name: str, app: str, env: dict[str, str], workers: int, log_dir: Path) -> Server:
    port = free_port()
    log_path = log_dir / f"gunicorn-{name}.log"
    command = [
        sys.executable, "-m", "gunicorn", app,
        "--workers", str(workers), "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}", "--error-logfile", str(log_path), "--log-level", "warning",
    ]
    with open(log_path, "wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    return Server(name=name, process=process, port=port, log_path=log_path)


def wait_until_serving(server: Server, code: str, timeout: float = 60) -> None:
    """Wait until every worker answers a lookup; fail with the server's log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn ({server.name}) exited:\n{server.log_tail()}")
        client = load.Client(server.port, code)
        status, _, _ = client.request("GET", load.lookup_path("nobody@bench.example"))
        client.close()
        if status == 200:
            return
        if status not in (0, 502, 503):
            raise RuntimeError(f"gunicorn ({server.name}) answered {status} to a lookup:\n{server.log_tail()}")
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn ({server.name}) did not serve within {timeout:.0f} s:\n{server.log_tail()}")


# --- Data ------------------------------------------------------------------------------------
def create_organisation(*, slug: str):
    from organisations.models import Agency, Department, Organisation, Section

    agency, _ = Agency.objects.get_or_create(slug="bench-agency", defaults={"name": "Bench agency"})
    organisation = Organisation.objects.create(
        agency=agency,
        name=f"Bench {slug}",
        slug=slug,
        azure_sso_enabled=True,
        azure_tenant_id=uuid.uuid4(),
        provisioning_enabled=True,
    )
    department = Department.objects.create(organisation=organisation, name="Operations")
    organisation.default_department = department
    organisation.default_section = Section.objects.create(department=department, name="Onboarding")
    organisation.save()
    return organisation


def scim_client(code: str):
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Bearer {code}", raise_request_exception=False)


def scim_call(client, method: str, path: str, body: dict | None = None):
    handler = getattr(client, method.lower())
    if body is None:
        return handler(path)
    return handler(path, data=json.dumps(body), content_type="application/scim+json; charset=utf-8")


def site_serves_scim(code: str) -> bool:
    """Whether the site's SCIM Users endpoint answers a lookup (it may still be under construction)."""
    try:
        response = scim_call(scim_client(code), "GET", load.lookup_path("nobody@bench.example"))
    except Exception:  # noqa: BLE001 - any failure means "not ready"; reported as such
        return False
    return response.status_code == 200


def make_template(*, organisation, code: str, through_site: bool):
    """Create the template user (through the site's endpoint if it serves) and read its rows back."""
    from organisations.models import User
    from scim_provisioning.models import ScimUser

    from .seed import MARKER, Template, read_row

    body = load.new_user_body(f"{MARKER}@bench.example")
    if through_site:
        response = scim_call(scim_client(code), "POST", load.USERS_PATH, body)
        if response.status_code != 201:
            raise RuntimeError(f"creating the template user answered {response.status_code}: {response.content!r}")
        scim_user = ScimUser.objects.get(pk=json.loads(response.content)["id"])
    else:
        user = User.objects.create(
            username=body["userName"],
            email=body["userName"],
            first_name="Bench",
            last_name=MARKER,
            organisation=organisation,
            department=organisation.default_department,
            section=organisation.default_section,
            password="!",
        )
        attributes = {k: v for k, v in body.items() if k not in ("userName", "active", "meta")}
        scim_user = ScimUser.objects.create(
            user=user, attributes=attributes, external_id=MARKER, email=user.email
        )
    return Template(
        user=read_row("organisations_user", "id", scim_user.user_id),
        scim_user=read_row("scim_provisioning_scimuser", "id", scim_user.pk),
    )


def reactivate_all(organisation_id: int) -> None:
    """Make the measured organisation's users active again, so every deactivation is a real one."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE organisations_user SET is_active = true WHERE organisation_id = %s AND NOT is_active",
            [organisation_id],
        )
        # The same people are deactivated again: the brake's window starts afresh, as for a new wave.
        cursor.execute(
            "UPDATE scim_provisioning_deactivationbrake SET minute_counts = '{}' WHERE organisation_id = %s",
            [organisation_id],
        )


def query_counts(*, code: str, sample: list[tuple[str, str]]) -> dict[str, dict]:
    """Run each request type once in-process and capture its SQL on every database alias
    (after one warm-up lookup)."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    client = scim_client(code)
    requests = [
        ("lookup (hit)", "GET", load.lookup_path(sample[0][0]), None),
        ("lookup (miss)", "GET", load.lookup_path(f"absent-{uuid.uuid4().hex}@bench.example"), None),
        ("GET by id", "GET", f"{load.USERS_PATH}/{sample[1][1]}", None),
        ("POST", "POST", load.USERS_PATH, load.new_user_body(f"counted-{uuid.uuid4().hex[:12]}@bench.example")),
        ("PATCH", "PATCH", f"{load.USERS_PATH}/{sample[2][1]}",
         load.legacy_patch(("displayName", "Counted"), ("active", "True"))),
        ("PATCH compliant", "PATCH", f"{load.USERS_PATH}/{sample[2][1]}", load.compliant_patch("Counted again")),
        ("PATCH active False", "PATCH", f"{load.USERS_PATH}/{sample[3][1]}", load.legacy_patch(("active", "False"))),
    ]
    counts = {}
    scim_call(client, "GET", load.lookup_path(sample[0][0]))
    for kind, method, path, body in requests:
        with contextlib.ExitStack() as stack:
            contexts = [stack.enter_context(CaptureQueriesContext(c)) for c in connections.all()]
            response = scim_call(client, method, path, body)
        captured = [query for context in contexts for query in context.captured_queries]
        counts[kind] = {
            "status": response.status_code,
            "queries": len(captured),
            "transaction_control": sum(1 for q in captured if q["sql"].split(" ", 1)[0] in _TRANSACTION_CONTROL),
            "sql": [q["sql"][:400] for q in captured],
            "sequential_scans": sequential_scans(q["sql"] for q in captured),
        }
    return counts


# Tables that grow with the organisation: a sequential scan of one makes a request O(users).
_LARGE_TABLES = {"organisations_user", "scim_provisioning_scimuser", "scim_provisioning_scimrequest"}


def sequential_scans(statements) -> list[str]:
    """Return the large tables that any of the statements' plans reads sequentially (EXPLAIN)."""
    from django.db import connection

    found: list[str] = []

    def walk(node: dict) -> None:
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in _LARGE_TABLES:
            found.append(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    with connection.cursor() as cursor:
        for sql in statements:
            if sql.split(" ", 1)[0] in _TRANSACTION_CONTROL:
                continue
            # EXPLAIN without ANALYZE plans the statement without running it.
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql.replace("%", "%%"))
            plan = cursor.fetchone()[0]
            walk((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
    return sorted(set(found))


_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


# --- Results ---------------------------------------------------------------------------------
def summarise(result: load.PhaseResult) -> dict:
    kinds: dict[str, list[load.Sample]] = {}
    for sample in result.samples:
        kinds.setdefault(sample.kind, []).append(sample)
    summary = {
        "operations": result.operations,
        "elapsed_s": round(result.elapsed, 3),
        "ops_per_s": round(result.operations / result.elapsed, 1) if result.elapsed else 0.0,
        "repeats": result.repeats,
        "client_cpu_pct": round(result.client_cpu * 100),
        "requests": {},
    }
    for kind, samples in kinds.items():
        latencies = sorted(s.seconds * 1000 for s in samples)
        errors = [s for s in samples if not s.ok]
        summary["requests"][kind] = {
            "count": len(samples),
            "per_s": round(len(samples) / result.elapsed, 1) if result.elapsed else 0.0,
            "p50_ms": round(load.percentile(latencies, 0.50), 2),
            "p95_ms": round(load.percentile(latencies, 0.95), 2),
            "p99_ms": round(load.percentile(latencies, 0.99), 2),
            "errors": len(errors),
            "error_statuses": sorted({s.status for s in errors}),
        }
    return summary


def _count_text(counts: dict | None) -> str:
    if not counts:
        return "-"
    text = f"{counts['queries']} ({counts['transaction_control']})"
    if counts.get("sequential_scans"):
        text += " SEQ SCAN " + ",".join(counts["sequential_scans"])
    return text if counts["status"] < 300 else f"{text} [{counts['status']}]"


def render_size(report: dict) -> str:
    lines = []
    run = report["run"]
    lines.append(
        f"== {run['users']:,} users (+{run['second_organisation_users']:,} in a second organisation): "
        f"{run['clients']} clients, {run['duration_s']:g} s per phase and server, gunicorn {run['workers']} sync "
        f"workers, CONN_MAX_AGE=60, Redis cache, DEBUG off"
    )
    lines.append(
        f"Each phase: {run['rounds']} alternating slices per server; machine load average at start "
        f"{run['load_average_at_start']} on {os.cpu_count()} CPUs"
    )
    lines.append(
        f"Database {run['database']}: migrate {run['migrate_s']:.1f} s, seed {run['seed_s']:.1f} s "
        f"({run['seeded_rows']:,} users + their SCIM users by COPY)"
    )
    lines.append("")
    lines.append(
        "SQL queries per request, as assertNumQueries counts them (of which BEGIN/COMMIT/SAVEPOINT), on every"
        " database alias; plans checked with EXPLAIN for sequential scans of the large tables:"
    )
    lines.append(f"  {'request':<20} {'site':>12} {'floor':>12}")
    site_counts = report["queries"].get("site", {})
    floor_counts = report["queries"].get("floor", {})
    for kind in floor_counts or site_counts:
        lines.append(f"  {kind:<20} {_count_text(site_counts.get(kind)):>12} {_count_text(floor_counts.get(kind)):>12}")
    lines.append("")
    lines.append("Phases (one op of 'create' is a lookup and a POST):")
    lines.append(
        f"  {'phase':<16} {'server':<6} {'ops/s':>8} {'request':<19} {'count':>7} {'req/s':>8} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}"
    )
    for phase in report["phases"]:
        for server, summary in report["phases"][phase].items():
            first = True
            for kind, stats in summary["requests"].items():
                ops = f"{summary['ops_per_s']:.1f}" if first else ""
                errors = f"{stats['errors']}" + (f" {stats['error_statuses']}" if stats["errors"] else "")
                lines.append(
                    f"  {phase if first else '':<16} {server if first else '':<6} {ops:>8} {kind:<19} "
                    f"{stats['count']:>7} {stats['per_s']:>8.1f} {stats['p50_ms']:>7.2f} {stats['p95_ms']:>7.2f} "
                    f"{stats['p99_ms']:>7.2f} {errors:>6}"
                )
                first = False
            notes = [f"load generator CPU {summary['client_cpu_pct']}% of a core"]
            if summary["repeats"]:
                notes.append(f"{summary['repeats']} repeated deactivations (pool wrapped)")
            lines.append(f"  {'':<16} {'':<6} {'':>8} ({'; '.join(notes)})")
    if report["ratios"]:
        lines.append("")
        lines.append("Site as a ratio to the floor: throughput (ops/s) and p99 of the slowest request:")
        for phase, ratio in report["ratios"].items():
            p99 = report["p99_ratios"][phase]
            target = TARGET_RATIO[phase]
            lines.append(
                f"  {phase:<16} throughput {ratio:5.2f} (target >= {target}: {'met' if ratio >= target else 'NOT met'})"
                f"   p99 {p99:5.2f} x floor (target <= {TARGET_P99_RATIO:g}: "
                f"{'met' if p99 <= TARGET_P99_RATIO else 'NOT met'})"
            )
    for variant, ratios in report.get("variants", {}).items():
        lines.append(f"  [{variant}]")
        for phase, ratio in ratios["ratios"].items():
            lines.append(f"  {phase:<16} throughput {ratio:5.2f}   p99 {ratios['p99_ratios'][phase]:5.2f} x floor")
    lines.append("")
    lines.append("Worker resident memory at the end (VmRSS, MB):")
    for server, info in report["memory"].items():
        lines.append(f"  {server:<6} {info['rss_mb']} after {info['requests']:,} requests to this server")
    if "soak" in report:
        lines.append(f"  (site before the soak of {report['soak']['requests']:,} requests: {report['soak']['rss_mb_before']})")
    return "\n".join(lines)


def summarise_sizes(reports: list[dict]) -> dict:
    """Per phase, the site's ratio at each size and how far its throughput drifts between sizes."""
    summary = {}
    for phase in PHASES:
        rows = [r for r in reports if phase in r["ratios"]]
        if not rows:
            continue
        throughputs = [r["phases"][phase]["site"]["ops_per_s"] for r in rows]
        drift = round((max(throughputs) - min(throughputs)) / max(throughputs), 3) if max(throughputs) else 0.0
        summary[phase] = {
            "users": [r["run"]["users"] for r in rows],
            "floor_ops_per_s": [r["phases"][phase]["floor"]["ops_per_s"] for r in rows],
            "site_ops_per_s": throughputs,
            "ratio": [r["ratios"][phase] for r in rows],
            "p99_ratio": [r["p99_ratios"][phase] for r in rows],
            "drift": drift,
        }
    return summary


def render(document: dict) -> str:
    parts = [render_size(report) for report in document["sizes"]]
    summary = document["summary"]
    if summary:
        sizes = next(iter(summary.values()))["users"]
        lines = ["== Site / floor at every size (throughput ratio; p99 ratio), and the site's drift between sizes"]
        header = f"  {'phase':<16}" + "".join(f" {f'{n:,} users':>22}" for n in sizes) + f" {'drift':>7}"
        lines.append(header)
        for phase, row in summary.items():
            cells = "".join(
                f" {f'{floor:,.0f}/{site:,.0f} = {ratio:.2f}; {p99:.2f}':>22}"
                for floor, site, ratio, p99 in zip(row["floor_ops_per_s"], row["site_ops_per_s"], row["ratio"], row["p99_ratio"])
            )
            flat = "met" if row["drift"] <= TARGET_FLATNESS else "NOT met"
            lines.append(f"  {phase:<16}{cells} {row['drift']:>6.0%} ({flat})")
        lines.append(
            "  (floor/site ops/s = ratio; p99 ratio. Targets: ratio >= 0.75 for lookup and get, >= 0.6 otherwise;"
            f" p99 ratio <= {TARGET_P99_RATIO:g}; drift <= {TARGET_FLATNESS:.0%}.)"
        )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


# --- Main ------------------------------------------------------------------------------------
def _sizes(text: str) -> list[int]:
    sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not sizes or any(size < 10 for size in sizes):
        raise argparse.ArgumentTypeError("give user counts of at least 10, comma-separated")
    return sizes


def _variant(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.isidentifier():
        raise argparse.ArgumentTypeError("give a setting as NAME=VALUE")
    return name, value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--users", type=_sizes, default=[1_000, 100_000, 1_000_000],
        help="users in the measured organisation, one run per comma-separated size (default 1000,100000,1000000)",
    )
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per phase and server")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per server")
    parser.add_argument(
        "--rounds", type=int, default=3, help="slices per phase, alternating between the servers"
    )
    parser.add_argument(
        "--soak", type=int, default=0, metavar="REQUESTS",
        help="after the phases, send this many more lookups and GETs to the site before reading its memory",
    )
    parser.add_argument(
        "--variant", action="append", default=[], metavar="NAME=VALUE", type=_variant,
        help="also serve the site with this environment setting changed, as one more server measured "
        "in the same alternating slices (repeatable), e.g. SCIM_ACTIVITY_QUEUED=false",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the databases for inspection")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--server",
        choices=("both", "floor"),
        default="both",
        help="'floor' measures only the floor (while the site's endpoint is unavailable)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER_URL),
        help="PostgreSQL server to create the databases on (default: $BENCH_POSTGRES_URL or %(default)s)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis database for the site's cache, as in production (default: $BENCH_REDIS_URL or %(default)s)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.soak <= 1_000_000:
        parser.error("--soak must be between 0 and 1,000,000 requests")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    if not 1 <= args.clients <= 64:
        parser.error("--clients must be between 1 and 64")
    if not 0 < args.duration <= 600:
        parser.error("--duration must be between 0 and 600 seconds")
    return args


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis is not reachable at {url} ({exc}); start it, or point BENCH_REDIS_URL elsewhere.") from exc


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_redis(args.redis_url)
    if len(args.users) == 1:
        reports = [measure_size(args, users=args.users[0])]
    else:
        # Each size in a process of its own, so that no connection, thread or setting of one
        # size's database lingers into the next.
        reports = [measure_in_subprocess(argv, users) for users in args.users]
    document = {"sizes": reports, "summary": summarise_sizes(reports)}
    print(json.dumps(document, indent=2) if args.json else render(document))
    errors = sum(
        stats["errors"]
        for report in reports
        for phase in report["phases"].values()
        for summary in phase.values()
        for stats in summary["requests"].values()
    )
    return 1 if errors else 0


def measure_in_subprocess(argv: list[str] | None, users: int) -> dict:
    arguments = list(sys.argv[1:] if argv is None else argv)
    for flag in ("--users", "--json"):
        while flag in arguments:
            position = arguments.index(flag)
            del arguments[position : position + (2 if flag == "--users" else 1)]
    completed = subprocess.run(
        [sys.executable, "-m", "bench.scim_bench", *arguments, "--users", str(users), "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, check=False,
    )
    if not completed.stdout:
        raise SystemExit(f"measuring {users:,} users failed (exit status {completed.returncode})")
    return json.loads(completed.stdout)["sizes"][0]


def measure_size(args: argparse.Namespace, *, users: int) -> dict:
    name = f"prompt_bench_{os.getpid()}"
    log_dir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    # An empty static root: the benchmark serves no static files, and WhiteNoise wants the folder.
    (log_dir / "static").mkdir()
    env = production_environment(database_url(args.postgres_url, name), log_dir / "static", args.redis_url)
    os.environ.update(env)
    import django

    django.setup()
    return run_size(args, users=users, name=name, env=env, log_dir=log_dir)


def run_size(args: argparse.Namespace, *, users: int, name: str, env: dict[str, str], log_dir: Path) -> dict:
    servers: list[Server] = []
    report: dict = {"run": {}, "queries": {}, "phases": {}, "ratios": {}, "p99_ratios": {}, "variants": {}, "memory": {}}
    created = False
    try:
        create_database(args.postgres_url, name)
        created = True
        log(f"Created database {name}; migrating")
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        migrate_s = time.perf_counter() - started
        from django.db import connections

        from organisations.access import Actor
        from scim_provisioning.codes.actions import provisioning_code_issue

        from . import seed

        organisation = create_organisation(slug="bench-measured")
        # The deactivate phase deactivates thousands of people in minutes, as Entra ID never
        # should: the brake counts every one of them (its per-request cost is measured) but holds
        # none. Its count of the organisation's people, made once a window, is made here.
        from django.utils import timezone

        from scim_provisioning.models import DeactivationBrake

        DeactivationBrake.objects.create(
            organisation=organisation, max_people=100_000, max_percent=100, population=users,
            population_counted_at=timezone.now(),
        )
        other = create_organisation(slug="bench-other")
        acting = Actor.system("benchmark")
        _, code = provisioning_code_issue(acting=acting, organisation=organisation)
        _, other_code = provisioning_code_issue(acting=acting, organisation=other)
        with_site = args.server == "both"
        if with_site and not site_serves_scim(code):
            raise RuntimeError(
                "The site's SCIM Users endpoint does not answer a lookup; use --server floor to measure "
                "the floor alone."
            )
        template = make_template(organisation=organisation, code=code, through_site=with_site)
        other_count = max(10, users // SECOND_ORGANISATION_SHARE)
        log(f"Seeding {users:,} + {other_count:,} users")
        started = time.perf_counter()
        seeded = seed.seed_users(
            template=template, organisation_id=organisation.pk, remap={}, count=users, prefix="a",
            sample_size=seed.SAMPLE_SIZE,
        )
        seed.seed_users(
            template=template,
            organisation_id=other.pk,
            remap={"department_id": other.default_department_id, "section_id": other.default_section_id},
            count=other_count,
            prefix="b",
        )
        seed.analyse()
        seed_s = time.perf_counter() - started
        log(f"Seeded in {seed_s:.1f} s")
        report["run"] = {
            "users": users,
            "second_organisation_users": other_count,
            "seeded_rows": users + other_count,
            "clients": args.clients,
            "workers": args.workers,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "database": name,
            "migrate_s": round(migrate_s, 2),
            "seed_s": round(seed_s, 2),
            "template_through": "the site's SCIM endpoint" if with_site else "the ORM",
        }

        # The query counts use users outside the load's sample head, before the servers start.
        counted = seeded.sample[-8:]
        del seeded.sample[-8:]
        os.environ["BENCH_FLOOR_CODE"] = code
        os.environ["BENCH_FLOOR_ORGANISATION"] = str(organisation.pk)
        floor_env = {
            **env,
            "DJANGO_SETTINGS_MODULE": "bench.floor.settings",
            "BENCH_FLOOR_CODE": code,
            "BENCH_FLOOR_ORGANISATION": str(organisation.pk),
        }
        report["queries"]["floor"] = floor_query_counts(env=floor_env, sample=counted[:4], code=code)
        if with_site:
            report["queries"]["site"] = query_counts(code=code, sample=counted[4:])
            # Tenancy is part of the measured path: the other organisation's code must not see our users.
            # The expected 404 would otherwise be logged as a warning in the middle of the output.
            logging.getLogger("django.request").setLevel(logging.ERROR)
            foreign = scim_call(scim_client(other_code), "GET", f"{load.USERS_PATH}/{seeded.sample[0][1]}")
            if foreign.status_code != 404:
                raise RuntimeError(f"another organisation's code read a user: {foreign.status_code}")
        connections.close_all()

        targets = [("floor", "bench.floor.wsgi", floor_env)]
        if with_site:
            targets.append(("site", "prompt_site.wsgi", env))
            for setting, value in args.variant:
                targets.append((f"site {setting}={value}", "prompt_site.wsgi", {**env, setting: value}))
        for label, app, server_env in targets:
            servers.append(start_server(name=label, app=app, env=server_env, workers=args.workers, log_dir=log_dir))
        for server in servers:
            wait_until_serving(server, code)
        log(f"Serving: {', '.join(f'{s.name} on 127.0.0.1:{s.port}' for s in servers)}")

        warm_up = min(1.0, args.duration / 4)
        requests_sent = {server.name: 0 for server in servers}
        for server in servers:
            for phase in PHASES:
                result = load.run_phase(
                    phase=phase, port=server.port, code=code, clients=args.clients, duration=warm_up,
                    sample=seeded.sample, label=f"{server.name}-warm",
                )
                requests_sent[server.name] += len(result.samples)
        # Each phase alternates short slices of the servers, so a change in the machine's other load
        # during the run falls on both sides of the ratio.
        for phase in PHASES:
            slices: dict[str, list[load.PhaseResult]] = {server.name: [] for server in servers}
            log(f"Phase {phase}")
            for round_number in range(args.rounds):
                for server in servers if round_number % 2 == 0 else servers[::-1]:
                    if phase == "deactivate":
                        reactivate_all(organisation.pk)
                        connections.close_all()
                    result = load.run_phase(
                        phase=phase, port=server.port, code=code, clients=args.clients,
                        duration=args.duration / args.rounds, sample=seeded.sample, label=server.name,
                    )
                    requests_sent[server.name] += len(result.samples)
                    slices[server.name].append(result)
            report["phases"][phase] = {name: summarise(load.merge(results)) for name, results in slices.items()}
            floor = report["phases"][phase]["floor"]
            for server in servers[1:]:
                ratio, p99_ratio = _ratios(report["phases"][phase][server.name], floor)
                if server.name == "site":
                    report["ratios"][phase], report["p99_ratios"][phase] = ratio, p99_ratio
                else:
                    variant = report["variants"].setdefault(server.name, {"ratios": {}, "p99_ratios": {}})
                    variant["ratios"][phase], variant["p99_ratios"][phase] = ratio, p99_ratio
        if args.soak and with_site:
            site_server = servers[-1]
            before = site_server.worker_rss_mb()
            log(f"Soak: {args.soak:,} lookups and GETs to the site")
            for phase in ("lookup", "get"):
                result = load.run_phase(
                    phase=phase, port=site_server.port, code=code, clients=args.clients, duration=3600,
                    sample=seeded.sample, label="soak", max_operations=args.soak // 2,
                )
                requests_sent[site_server.name] += len(result.samples)
            report["soak"] = {"requests": args.soak, "rss_mb_before": before}
        for server in servers:
            report["memory"][server.name] = {"rss_mb": server.worker_rss_mb(), "requests": requests_sent[server.name]}
    finally:
        for server in servers:
            server.stop()
        from django.db import connections

        connections.close_all()
        if created and not args.keep_db:
            drop_database(args.postgres_url, name)
            log(f"Dropped database {name}")
        elif created:
            log(f"Kept database {name}")
        if args.keep_db:
            log(f"Kept gunicorn logs in {log_dir}")
        else:
            shutil.rmtree(log_dir, ignore_errors=True)
    return report


def _ratios(site: dict, floor: dict) -> tuple[float, float]:
    """Throughput as a share of the floor's, and the p99 of the slowest request as a multiple of the floor's."""
    ratio = round(site["ops_per_s"] / floor["ops_per_s"], 3) if floor["ops_per_s"] else 0.0
    site_p99 = max(r["p99_ms"] for r in site["requests"].values())
    floor_p99 = max(r["p99_ms"] for r in floor["requests"].values())
    return ratio, (round(site_p99 / floor_p99, 3) if floor_p99 else 0.0)


def floor_query_counts(*, env: dict[str, str], sample: list[tuple[str, str]], code: str) -> dict[str, dict]:
    """The floor's queries per request type, counted in a process of its own (its own settings)."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.floor_counts", json.dumps({"sample": sample, "code": code})],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"counting the floor's queries failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout)


if __name__ == "__main__":
    sys.exit(main())
