"""Steady prediction traffic from inside the kind cluster, for the end-to-end test.

Runs in a pod of the demo model image (it has the package and the demo data set) and sends
KServe v1 predictions to the rollout's Service until the pod is deleted, printing a summary
line every `--report-s` seconds so `kubectl logs` shows what the clients saw.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Sequence

from controller.local.loadgen import TrafficConfig, TrafficGenerator, dataset_requests

__all__ = ["main"]


async def _report(generator: TrafficGenerator, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        outcomes = generator.outcomes
        variants = Counter(outcome.variant or "none" for outcome in outcomes)
        failed = sum(outcome.failed for outcome in outcomes)
        print(f"sent {len(outcomes)} failed {failed} by variant {dict(variants)}", flush=True)


async def _run(args: argparse.Namespace) -> None:
    config = TrafficConfig(target_url=args.target, rate_per_s=args.rate)
    generator = TrafficGenerator(config, dataset_requests(args.model_name))
    reporter = asyncio.create_task(_report(generator, args.report_s))
    try:
        await generator.run()
    finally:
        reporter.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Send demo predictions to a URL until stopped.")
    parser.add_argument("--target", required=True, help="scheme and host[:port], e.g. http://demo-model")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--model-name", default="demo")
    parser.add_argument("--report-s", type=float, default=10.0)
    asyncio.run(_run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
