"""Local mode's references: what `modelrollout baseline` writes is what a local monitored rollout reads."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from controller.api.monitoring import FeatureCounts, ModelReference
from controller.api.resource import ModelRollout
from controller.local.references import FileReferenceStore, read_baseline
from controller.routing.monitoring import ReferenceUnavailable

ROWS = "age,colour,label\n" + "".join(f"{20 + i % 50},{['red', 'blue'][i % 2]},{i % 2}\n" for i in range(300))


def _baseline(tmp_path: Path, *options: str) -> Path:
    data = tmp_path / "train.csv"
    data.write_text(ROWS)
    out = tmp_path / ("baseline" + ("-cm.yaml" if "--name" in options else ".json"))
    result = subprocess.run(
        [sys.executable, "-m", "controller", "baseline", str(data), "--label-column", "label", *options],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out.write_text(result.stdout)
    return out


@pytest.mark.parametrize("options", [(), ("--name", "iris-training", "-o", "yaml")])
def test_a_baseline_file_in_either_form_reads_back_as_the_reference(tmp_path: Path, options: tuple[str, ...]) -> None:
    reference = read_baseline(_baseline(tmp_path, *options))
    assert reference.source == "baseline" and reference.samples == 300
    assert set(reference.features) == {"0", "1"}
    assert reference.features["1"].categories == {"red": 150, "blue": 150}


def test_an_unreadable_baseline_file_names_itself_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ReferenceUnavailable, match="missing.json"):
        read_baseline(tmp_path / "missing.json")
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"source": "baseline"}')
    with pytest.raises(ReferenceUnavailable, match="is not a reference written by `modelrollout baseline`"):
        read_baseline(garbage)


def test_the_live_reference_survives_a_new_store(tmp_path: Path) -> None:
    spec = {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}, "strategy": {"canary": {"steps": [{"setWeight": 100}]}}}
    rollout = ModelRollout.model_validate({"metadata": {"name": "iris", "namespace": "local"}, "spec": spec})
    reference = ModelReference(source="live", revision="abc", samples=3, features={"age": FeatureCounts(bins=[1, 2])})
    asyncio.run(FileReferenceStore(tmp_path).save(rollout, reference))
    assert asyncio.run(FileReferenceStore(tmp_path).load(rollout)) == reference
