"""Metric providers: adapters that turn a metric spec into a MetricObservation (router, Prometheus, webhook)."""
