"""One sync in a fresh process, so its peak memory is its own: prints a JSON line with the figures."""

from __future__ import annotations

import json
import resource
import sys
import time

import django


def main() -> None:
    django.setup()
    from roaming.models import Partner
    from roaming.sync import sync_partner

    partner_id, module, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    partner = Partner.objects.get(pk=partner_id)
    started = time.perf_counter()
    run = sync_partner(partner=partner, module=module, full=mode == "full")
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": peak_mb,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "pages": run.pages,
                "seen": run.seen,
                "created": run.created,
                "updated": run.updated,
                "unchanged": run.unchanged,
                "removed": run.removed,
                "invalid": run.invalid,
            }
        )
    )


if __name__ == "__main__":
    main()
