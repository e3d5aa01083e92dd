"""Everything a user waits for through the service layer, in one command (issue 15, point 9).

Runs, one after the other and each in its own process (so one's memory and imports do not
colour the next), the service benchmarks that each print their figures against a baseline
measured in the same run, with the worst event-loop block:

- ``bench/services_search.py``: admin and rep search, the duplicate check (M and L);
- ``bench/services_reports.py``: a manager's and an admin's monthly report, chart, workbook;
- ``bench/services_scan.py``: the daily scan, first run and steady state.

    python bench/services.py                  # size M
    python bench/services.py --size L         # size L (100 000 customers; slow to generate)
    python bench/services.py --only search,scan

Exits non-zero when any of them fails to run (a MISS is a figure, not a failure).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CUSTOMERS = {"M": 10_000, "L": 100_000}


def commands(size: str) -> dict[str, list[str]]:
    return {
        "search": ["services_search.py", "--sizes", str(CUSTOMERS[size]), "--reuse"],
        "reports": ["services_reports.py", "--size", size],
        "scan": ["services_scan.py", "--size", size, "--reuse"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(CUSTOMERS), default="M")
    parser.add_argument("--only", default="search,reports,scan", help="comma-separated: search, reports, scan")
    args = parser.parse_args()
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    failed = []
    for name, (script, *options) in commands(args.size).items():
        if name not in wanted:
            continue
        print(f"\n# {name}: python bench/{script} {' '.join(options)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *options], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed to run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
