"""The prediction log's price per request, measured in-process: `PredictionLog.record` at the default capacity.

    python bench/prediction_log.py [--requests N]      (prints microseconds per record)

Run on the proxy's core by bench/router.py, which multiplies it by the router's throughput: the
share of the router's time the log takes. That price is far steadier than the throughput A/B on
a shared machine, where one run moves by more than the few percent being measured.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from router.config import RouterConfig  # noqa: E402 - after the path is set
from router.feedback import PredictionLog  # noqa: E402


def record_us(requests: int) -> float:
    """Microseconds one `record` takes in a full log, as the proxy makes it: a new id, one score."""
    capacity = RouterConfig.model_fields["feedback_capacity"].default
    log = PredictionLog(capacity)
    ids = [b"%032x" % random.getrandbits(128) for _ in range(requests)]
    for request_id in ids[: capacity]:  # fill it first: the steady state evicts as it records
        log.record(request_id.decode(), "stable", [0.7])
    timed = ids[capacity:]
    started = time.perf_counter()
    for request_id in timed:
        log.record(request_id.decode(), "stable", [0.7])
    return (time.perf_counter() - started) / len(timed) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400_000)
    args = parser.parse_args()
    best = min(record_us(args.requests) for _ in range(3))  # the least disturbed of three runs
    print(f"{best:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
