"""`modelrollout crd` and `modelrollout validate`, run the way a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO_ROOT / "manifests" / "examples").glob("*.yaml"))


def modelrollout(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", *args],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_crd_prints_the_committed_crd() -> None:
    result = modelrollout("crd")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO_ROOT / "manifests" / "crd" / "modelrollouts.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(result.stdout)["kind"] == "CustomResourceDefinition"


def test_validate_says_ok_for_each_example() -> None:
    result = modelrollout("validate", *map(str, EXAMPLES))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(EXAMPLES) == 5
    assert all(line.startswith(str(path)) and ": ok (" in line for line, path in zip(lines, EXAMPLES, strict=True))


def test_validate_names_every_problem_and_exits_2(tmp_path: Path) -> None:
    doc = yaml.safe_load(EXAMPLES[1].read_text(encoding="utf-8"))
    doc["spec"]["strategy"]["canary"]["steps"][3]["setWeight"] = 140
    doc["spec"]["replicas"] = "three"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = modelrollout("validate", str(EXAMPLES[0]), str(bad))
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        f"{EXAMPLES[0]}: ok (price-estimator)",
        f"{bad}: 2 problems",
        "  .spec.replicas: 'three' is not an integer",
        "  .spec.strategy.canary.steps[3].setWeight: 140 is outside 0..100",
    ]


def test_validate_reports_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = modelrollout("validate", str(missing))
    assert result.returncode == 2
    assert result.stdout.startswith(f"{missing}: cannot be read: ")


def test_validate_reads_standard_input() -> None:
    result = modelrollout("validate", "-", stdin="kind: ModelRollout\nspec: {}\n")
    assert result.returncode == 2
    assert "  .spec.template: is required" in result.stdout.splitlines()


def test_validate_needs_a_file() -> None:
    result = modelrollout("validate")
    assert result.returncode == 2
    assert "FILE" in result.stderr
