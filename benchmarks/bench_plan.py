"""Planning, measured on the machine at hand: the CPU a run spends before it sends anything.

    python benchmarks/bench_plan.py [--seeds N] [--max-examples N]

For each shipped profile (and two large documents of the wild corpus), the CPU seconds
(``time.process_time``) of ``plan()`` per seed, after one warm-up plan (the document's
schemathesis preparation is start-up, paid once a process), the cases planned and the plan's
fingerprint (the same seed must give the same fingerprint on every commit that does not mean
to change the plans). Each seed is planned for the first time in the process; the last column
is seed 0 planned again, its draws read back from what the process kept (a pytest session, a
loop of ``conformance.run``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = (
    ("deepseek", None, "deepseek-chat"),
    ("openai", None, "gpt-4.1"),
    ("anthropic", None, "claude-x"),
    ("literal", None, "deepseek-chat"),
    ("mistral.yaml", ROOT / "tests" / "data" / "wild" / "mistral.yaml", "m"),
    ("together.yaml", ROOT / "tests" / "data" / "wild" / "together.yaml", "m"),
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-examples", type=int, default=5)
    args = parser.parse_args()

    from conformance.contract import load_contract
    from conformance.plan import PlanConfig, plan

    print("| contract | cases | CPU s a plan (median; min-max) | fingerprint of seed 0 | again |")
    print("|---|---|---|---|---|")
    total = 0.0
    for name, path, model in TARGETS:
        contract = load_contract(str(path)) if path is not None else load_contract(profile=name)
        plan(contract, PlanConfig(max_examples=args.max_examples, seed=10_000), model=model)
        times, first = [], None
        for seed in range(args.seeds):
            start = time.process_time()
            planned = plan(
                contract, PlanConfig(max_examples=args.max_examples, seed=seed), model=model
            )
            times.append(time.process_time() - start)
            first = first or planned
        total += sum(times)
        assert first is not None
        start = time.process_time()
        again = plan(contract, PlanConfig(max_examples=args.max_examples, seed=0), model=model)
        again_s = time.process_time() - start
        assert again.fingerprint == first.fingerprint
        print(
            f"| {name} | {len(first.cases)} | {statistics.median(times):.2f}; "
            f"{min(times):.2f}-{max(times):.2f} | {first.fingerprint} | {again_s:.2f} |"
        )
    print(
        f"\nall plans: {total:.1f} s of CPU ({args.seeds} seeds, --max-examples {args.max_examples})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
