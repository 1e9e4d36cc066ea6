"""Prices per request measured in-process: the prediction log's record, and input feature extraction.

    python bench/prediction_log.py [--requests N]              (microseconds per record)
    python bench/prediction_log.py --features [--requests N]   (microseconds per request at the default sampling)

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
from router.features import FeatureCounters, features_of  # noqa: E402
from router.feedback import PredictionLog  # noqa: E402

# What wrk sends in bench/router.py (bench/wrk.py's REQUEST_BODY).
BODY = b'{"instances": [[0.1, 0.2, 0.3, 0.4]]}'


def record_us(requests: int) -> float:
    """Microseconds one `record` takes in a full log, as the proxy makes it: a new id (bytes, as the
    router holds it), one score."""
    capacity = RouterConfig.model_fields["feedback_capacity"].default
    log = PredictionLog(capacity)
    ids = [b"%032x" % random.getrandbits(128) for _ in range(requests)]
    for request_id in ids[:capacity]:  # fill it first: the steady state evicts as it records
        log.record(request_id, "stable", [0.7])
    timed = ids[capacity:]
    started = time.perf_counter()
    for request_id in timed:
        log.record(request_id, "stable", [0.7])
    return (time.perf_counter() - started) / len(timed) * 1e6


def features_us(requests: int) -> float:
    """Microseconds per request that feature extraction takes at the default sampling: the draw on
    every request, reading and counting the body's features on the sampled ones."""
    percent = RouterConfig.model_fields["feature_sample_percent"].default
    fields = RouterConfig.model_fields
    counters = FeatureCounters(fields["max_features"].default, fields["max_feature_categories"].default)
    draw = random.Random(1).random
    started = time.perf_counter()
    for _ in range(requests):
        if draw() * 100 < percent:
            counters.observe(features_of("/v1/models/bench:predict", BODY))
    return (time.perf_counter() - started) / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400_000)
    parser.add_argument("--features", action="store_true", help="price feature extraction instead of the prediction log")
    args = parser.parse_args()
    measure = features_us if args.features else record_us
    best = min(measure(args.requests) for _ in range(3))  # the least disturbed of three runs
    print(f"{best:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
