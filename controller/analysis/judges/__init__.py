"""One judge per kind of judgement: bounds, relative to stable, statistical comparison, drift.

Each module exposes `judge(metric, observation) -> AnalysisResult` and is reached only through
`controller.analysis.judge.judge`, which has already turned provider errors, webhook verdicts
and too few samples into results.
"""

from __future__ import annotations

__all__: list[str] = []
