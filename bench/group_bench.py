"""Benchmark SCIM group membership as Entra ID changes it, against the floor, on PostgreSQL.

    python -m bench.group_bench [--group-size 10000] [--repeats 10] [--keep-db] [--json]

Creates a fresh database, seeds the organisation's users with COPY (as ``scim_bench`` does),
serves the site with gunicorn as in production and, beside it, the floor (``bench/floor``: one
check of the ids, one INSERT or DELETE of the rows per request), then measures, one request at a
time over a keep-alive connection as Entra sends them:

* the PATCH at the members cap: ``--repeats`` times, an Add of ``MAX_MEMBERS`` members followed by
  a Remove of the same members (Entra's legacy value list);
* a group of ``--group-size`` members built up by PATCHes of ``MAX_MEMBERS`` new members each: the
  first and the last PATCH (the cost must not grow with the group), and the whole build;
* on that full group, single-member removes and adds (Entra's incremental cycle).

Each is reported in milliseconds and as the site's throughput as a share of the floor's (the
floor's time divided by the site's), measured in the same run. The database is dropped at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from . import load
from .scim_bench import (
    DEFAULT_REDIS_URL,
    DEFAULT_SERVER_URL,
    ROOT,
    check_redis,
    create_database,
    create_organisation,
    database_url,
    drop_database,
    log,
    make_template,
    production_environment,
    start_server,
    wait_until_serving,
)

GROUPS_PATH = "/api/authentication/scim/Groups"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# The site's per-request cost must stay near the floor's and must not grow with the group.
TARGET_RATIO = 0.5
TARGET_GROWTH = 1.5


def members_patch(op: str, ids: list[str]) -> dict:
    """Entra's legacy membership PATCH (MS-DEV "Update Group [Add Members]" / "[Remove Members]")."""
    return {"schemas": [PATCH_OP], "Operations": [{"op": op, "path": "members", "value": [{"value": i} for i in ids]}]}


def timed(client: load.Client, group_id: str, op: str, ids: list[str]) -> float:
    """Send one membership PATCH; return its time in milliseconds (a failure ends the run)."""
    status, seconds, body = client.request("PATCH", f"{GROUPS_PATH}/{group_id}", members_patch(op, ids))
    if status != 204:
        raise RuntimeError(f"PATCH {op} of {len(ids)} members answered {status}: {body[:300]!r}")
    return seconds * 1000


def create_group(organisation_id: int, name: str) -> str:
    from scim_provisioning.models import ScimGroup

    group = ScimGroup.objects.create(organisation_id=organisation_id, display_name=name, display_name_key=name.casefold())
    return str(group.pk)


def measure(server, *, code: str, organisation_id: int, ids: list[str], cap: int, group_size: int, repeats: int) -> dict:
    """Run the three measurements against one server."""
    client = load.Client(server.port, code)
    try:
        cap_group = create_group(organisation_id, f"cap-{server.name}")
        cap_ids = ids[:cap]
        # One unmeasured round first: the workers' first requests load code and warm connections.
        for _ in range(2):
            timed(client, cap_group, "Add", cap_ids)
            timed(client, cap_group, "Remove", cap_ids)
        adds, removes = [], []
        for _ in range(repeats):
            adds.append(timed(client, cap_group, "Add", cap_ids))
            removes.append(timed(client, cap_group, "Remove", cap_ids))
        big_group = create_group(organisation_id, f"big-{server.name}")
        build_ids = ids[cap : cap + group_size]
        build = [timed(client, big_group, "Add", build_ids[start : start + cap]) for start in range(0, group_size, cap)]
        single_ids = build_ids[: max(1, repeats)]
        singles = []
        for member in single_ids:
            singles.append(timed(client, big_group, "Remove", [member]))
            singles.append(timed(client, big_group, "Add", [member]))
    finally:
        client.close()
    return {
        "cap_add_ms": round(statistics.median(adds), 2),
        "cap_remove_ms": round(statistics.median(removes), 2),
        "build_first_ms": round(build[0], 2),
        "build_last_ms": round(build[-1], 2),
        "build_total_ms": round(sum(build), 1),
        "build_patches": len(build),
        "single_member_ms": round(statistics.median(singles), 2),
        "group_id": big_group,
    }


def ratios(site: dict, floor: dict) -> dict:
    """The site's throughput as a share of the floor's: the floor's time over the site's."""
    keys = ("cap_add_ms", "cap_remove_ms", "build_total_ms", "single_member_ms")
    return {key.removesuffix("_ms"): round(floor[key] / site[key], 3) if site[key] else 0.0 for key in keys}


def growth(result: dict) -> float:
    """How much the last PATCH of the build costs relative to the first (1.0: not at all more)."""
    return round(result["build_last_ms"] / result["build_first_ms"], 3) if result["build_first_ms"] else 0.0


def render(report: dict) -> str:
    run, site, floor = report["run"], report["site"], report["floor"]
    lines = [
        f"Group membership, {run['users']:,} users seeded, members cap {run['cap']:,}, "
        f"group of {run['group_size']:,} built by {site['build_patches']} PATCHes; gunicorn {run['workers']} workers; "
        f"load average at start {run['load_average_at_start']}",
        f"  {'measurement':<34} {'site ms':>10} {'floor ms':>10} {'site/floor':>11}",
    ]
    rows = [
        ("PATCH Add at the cap (median)", "cap_add_ms", "cap_add"),
        ("PATCH Remove at the cap (median)", "cap_remove_ms", "cap_remove"),
        ("build: the whole group", "build_total_ms", "build_total"),
        ("single member on the full group", "single_member_ms", "single_member"),
    ]
    for label, key, ratio_key in rows:
        ratio = report["ratios"][ratio_key]
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        lines.append(f"  {label:<34} {site[key]:>10,.1f} {floor[key]:>10,.1f} {ratio:>11.2f}  (target >= {TARGET_RATIO}: {verdict})")
    for name in ("site", "floor"):
        value = report["growth"][name]
        lines.append(
            f"  {name}: last build PATCH / first = {value:.2f}"
            + (f" (target <= {TARGET_GROWTH}: {'met' if value <= TARGET_GROWTH else 'NOT met'})" if name == "site" else "")
        )
    lines.append(f"  members stored in the built group: {report['stored_members']:,}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from scim_provisioning.protocol.groups import MAX_MEMBERS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group-size", type=int, default=10_000, help="members of the group built up by PATCHes")
    parser.add_argument("--cap", type=int, default=MAX_MEMBERS, help="members per PATCH (the site's cap)")
    parser.add_argument("--repeats", type=int, default=10, help="cap PATCHes and single-member changes measured")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER_URL))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 0 < args.cap <= MAX_MEMBERS:
        parser.error(f"--cap must be between 1 and {MAX_MEMBERS}")
    if args.group_size < args.cap or args.repeats < 1:
        parser.error("--group-size must be at least --cap, and --repeats at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_redis(args.redis_url)
    name = f"prompt_group_bench_{os.getpid()}"
    log_dir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    (log_dir / "static").mkdir()
    env = production_environment(database_url(args.postgres_url, name), log_dir / "static", args.redis_url)
    os.environ.update(env)
    import django

    django.setup()
    servers = []
    created = False
    try:
        import subprocess

        create_database(args.postgres_url, name)
        created = True
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        from django.db import connections

        from organisations.access import Actor
        from scim_provisioning.codes.actions import provisioning_code_issue
        from scim_provisioning.models import ScimGroupMember

        from . import seed

        organisation = create_organisation(slug="bench-groups")
        _, code = provisioning_code_issue(acting=Actor.system("benchmark"), organisation=organisation)
        template = make_template(organisation=organisation, code=code, through_site=True)
        users = args.cap + args.group_size
        log(f"Seeding {users:,} users")
        seeded = seed.seed_users(
            template=template, organisation_id=organisation.pk, remap={}, count=users, prefix="g", sample_size=users
        )
        seed.analyse()
        ids = sorted(scim_id for _, scim_id in seeded.sample)
        connections.close_all()
        floor_env = {
            **env,
            "DJANGO_SETTINGS_MODULE": "bench.floor.settings",
            "BENCH_FLOOR_CODE": code,
            "BENCH_FLOOR_ORGANISATION": str(organisation.pk),
        }
        for label, app, server_env in (("floor", "bench.floor.wsgi", floor_env), ("site", "prompt_site.wsgi", env)):
            servers.append(start_server(name=label, app=app, env=server_env, workers=args.workers, log_dir=log_dir))
        for server in servers:
            wait_until_serving(server, code)
        report: dict = {
            "run": {
                "users": users,
                "cap": args.cap,
                "group_size": args.group_size,
                "repeats": args.repeats,
                "workers": args.workers,
                "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            }
        }
        for server in servers:
            log(f"Measuring the {server.name}")
            report[server.name] = measure(
                server, code=code, organisation_id=organisation.pk, ids=ids, cap=args.cap,
                group_size=args.group_size, repeats=args.repeats,
            )
        report["ratios"] = ratios(report["site"], report["floor"])
        report["growth"] = {name: growth(report[name]) for name in ("site", "floor")}
        report["stored_members"] = ScimGroupMember.objects.filter(group_id=uuid.UUID(report["site"]["group_id"])).count()
        connections.close_all()
    finally:
        for server in servers:
            server.stop()
        from django.db import connections

        connections.close_all()
        if created and not args.keep_db:
            drop_database(args.postgres_url, name)
            log(f"Dropped database {name}")
        shutil.rmtree(log_dir, ignore_errors=True)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if report["stored_members"] == args.group_size else 1


if __name__ == "__main__":
    sys.exit(main())
