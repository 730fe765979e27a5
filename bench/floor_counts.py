"""Count the floor's queries per request type in a process of its own: ``python -m bench.floor_counts JSON``.

The floor runs under its own settings (``bench.floor.settings``), so its queries are counted
apart from the site's, the same way (``scim_bench.query_counts``).
"""
import json
import os
import sys

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.floor.settings"


def main() -> None:
    import django

    django.setup()
    from .scim_bench import query_counts

    arguments = json.loads(sys.argv[1])
    counts = query_counts(code=arguments["code"], sample=[tuple(pair) for pair in arguments["sample"]])
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
