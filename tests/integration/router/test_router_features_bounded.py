"""Input features through a real router: counted per feature, bounded whatever names and categories clients send."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from router_harness import RouterFactory, send_many

pytestmark = pytest.mark.integration

CAPS = {"featureSamplePercent": 100, "maxFeatures": 50, "maxFeatureCategories": 20}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def hostile(start: int, count: int) -> list[dict[str, Any]]:
    """Every request names ten features no request named before, and a colour never seen."""
    return [{"instances": [{**{f"k{n}_{j}": j * 1.5 for j in range(10)}, "colour": f"c{n}"}]} for n in range(start, start + count)]


def test_thousands_of_feature_names_and_categories_keep_it_bounded(start_router: RouterFactory, base_config: dict[str, Any]) -> None:
    router = start_router({**base_config, **CAPS})
    url = router.url + "/echo"
    assert all(a.status == 200 for a in send_many(url, hostile(0, 500)))
    settled = rss_kib(router.process.popen.pid)
    assert all(a.status == 200 for a in send_many(url, hostile(500, 4_500)))
    stats = router.stats()
    assert stats["featuresSampled"] == 5_000
    assert len(stats["features"]) == 50
    assert stats["featuresDropped"] == 5_000 * 11 - 5_000 - 49  # every value of a feature past the cap
    colours = stats["features"]["colour"]["categories"]
    assert len(colours) == 21 and colours["__other__"] == 5_000 - 20
    assert f"modelrollout_router_features_dropped_total {float(stats['featuresDropped'])}" in router.metrics()
    grown_mib = (rss_kib(router.process.popen.pid) - settled) / 1024
    assert grown_mib < 32, f"RSS grew {grown_mib:.1f} MiB over 4,500 requests of new names"


def test_a_sampled_share_is_counted_and_numbers_are_binned(start_router: RouterFactory, base_config: dict[str, Any]) -> None:
    router = start_router({**base_config, "featureSamplePercent": 25})
    send_many(router.url + "/v1/models/m:predict", [{"instances": [[0.3, 7.0]]} for _ in range(2_000)])
    stats = router.stats()
    assert 300 < stats["featuresSampled"] < 700  # 25% of 2,000, drawn at random
    numeric = stats["features"]["1"]["numeric"]
    assert sum(numeric["counts"]) == stats["featuresSampled"]
    assert numeric["counts"][next(i for i, edge in enumerate(numeric["edges"]) if edge >= 7.0)] == stats["featuresSampled"]
