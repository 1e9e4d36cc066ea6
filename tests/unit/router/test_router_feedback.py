"""The prediction log: bounded memory, a retention window, each label judged once, late labels told apart."""

from __future__ import annotations

from router.feedback import MAX_KEPT_PREDICTIONS, PredictionLog, Recorded


def test_a_recorded_prediction_is_taken_once() -> None:
    log = PredictionLog(capacity=10)
    log.record(b"r1", "candidate", [1])
    assert log.take("r1") == Recorded("candidate", [1])
    assert log.take("r1") is None


def test_memory_stays_within_twice_the_capacity_however_many_requests_come() -> None:
    log = PredictionLog(capacity=100)
    most = 0
    for n in range(10_000):
        log.record(b"r%d" % n, "stable", [n])
        most = max(most, log.held)
    assert most <= 200
    assert 50 <= len(log) <= 100


def test_the_latest_half_capacity_is_always_joinable_and_older_ones_come_late_then_unknown() -> None:
    log = PredictionLog(capacity=100)
    for n in range(1_000):
        log.record(b"r%d" % n, "stable", [n])
    assert all(log.find(f"r{n}")[0] == "matched" for n in range(950, 1_000))
    # The generation retired before the previous one still names its ids, as late.
    kinds = [log.find(f"r{n}")[0] for n in range(0, 950)]
    assert kinds.count("late") == 50 and set(kinds[-50:]) == {"late"}
    assert log.find("r0") == ("missing", None)


def test_a_late_label_is_counted_late_once() -> None:
    log = PredictionLog(capacity=2)
    for n in range(2):
        log.record(b"r%d" % n, "stable", [n])
    assert log.find("r0") == ("late", None)
    assert log.find("r0") == ("missing", None)


def test_predictions_are_kept_for_the_retention_window_then_late() -> None:
    log = PredictionLog(capacity=1_000, retention_s=60.0, now_s=0.0)
    log.record(b"early", "stable", [0.1])
    log.tick(59.0)
    assert len(log) == 1
    log.tick(60.0)  # the window has passed once: still joinable, in the previous generation
    log.record(b"later", "candidate", [0.2])
    assert log.find("early")[0] == "matched"
    log.record(b"early2", "stable", [0.3])
    log.tick(120.0)
    log.tick(180.0)
    assert log.find("later") == ("late", None)
    log.tick(240.0)
    assert log.find("early2")[0] == "missing"  # freed with the generation two retirements back


def test_huge_answers_and_zero_capacity_keep_nothing() -> None:
    log = PredictionLog(capacity=5)
    log.record(b"big", "stable", [0] * (MAX_KEPT_PREDICTIONS + 1))
    assert log.take("big") is None
    off = PredictionLog(capacity=0)
    off.record(b"r", "stable", [1])
    assert len(off) == 0 and off.held == 0


def test_shrinking_to_zero_forgets_everything() -> None:
    log = PredictionLog(capacity=10)
    log.record(b"r", "stable", [1])
    log.resize(0)
    log.tick(1.0)
    assert len(log) == 0 and log.held == 0


def test_the_shadow_prediction_joins_its_request() -> None:
    log = PredictionLog(capacity=5)
    log.record(b"r", "stable", ["cat"])
    log.record_shadow("r", ["dog"])
    log.record_shadow("unknown", ["dog"])
    assert log.take("r") == Recorded("stable", ["cat"], ["dog"])
    assert log.held == 0


def test_a_full_log_holds_a_few_hundred_bytes_per_entry() -> None:
    # orjson's bytes each kept a ~4 KB allocation: a full log of the default capacity held 660 MB.
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        log = PredictionLog(capacity=20_000)
        for i in range(60_000):
            log.record(b"request-%08d" % i, "stable", [0.5])
            if i % 10 == 0:
                log.record_shadow(f"request-{i:08d}", [0.25])
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert log.held > 20_000
    assert used / log.held < 400, f"{used / log.held:.0f} bytes per held entry"


def test_joins_late_labels_and_bounds_hold_across_the_chunks_of_a_large_log() -> None:
    # A generation of 5,000 entries is filled in many chunks: each label must find its own.
    log = PredictionLog(capacity=10_000)
    most = 0
    for n in range(32_000):
        log.record(b"r%d" % n, "candidate" if n % 3 else "stable", [n, f"c{n}"])
        if n % 7 == 0:
            log.record_shadow(f"r{n}", [n + 0.5])
        most = max(most, log.held)
    assert most <= 20_000
    assert len(log) == 7_000  # the current generation (2,000 so far) and the previous one (5,000)
    for n in range(25_000, 32_000):
        shadow = [n + 0.5] if n % 7 == 0 else None
        assert log.find(f"r{n}") == ("matched", Recorded("candidate" if n % 3 else "stable", [n, f"c{n}"], shadow))
    assert all(log.find(f"r{n}") == ("late", None) for n in range(20_000, 25_000))
    assert log.find("r19999") == ("missing", None) and log.find("r25000") == ("missing", None)
