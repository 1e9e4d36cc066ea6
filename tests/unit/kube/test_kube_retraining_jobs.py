"""The retraining Job's body: its name within 63 characters, the evidence bounded, the template left as it was."""

from __future__ import annotations

import orjson

from controller.api.monitoring import MonitoringCondition, RetrainingSpec
from controller.engine.actions import TriggerRetraining
from controller.kube.retraining_jobs import MAX_EVIDENCE_CHARS, evidence_text, job_name, retraining_job
from tests.unit.conftest import RolloutFactory

TEMPLATE = {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [
    {"name": "train", "image": "train:1", "env": [{"name": "MODELROLLOUT_EPISODE", "value": "stale"}, {"name": "LR", "value": "0.1"}]},
]}}}  # fmt: skip


def _action(episode: str = "e-1", evidence: dict[str, object] | None = None) -> TriggerRetraining:
    return TriggerRetraining(
        episode=episode,
        condition=MonitoringCondition.PREDICTION_DRIFT,
        retraining=RetrainingSpec(job=TEMPLATE),
        evidence=evidence if evidence is not None else {"psi": 0.3},
    )


def test_a_job_name_is_one_per_episode_and_fits_a_label_value(make_rollout: RolloutFactory) -> None:
    long = make_rollout(name="a" * 60 + "-b")
    names = {job_name(long, episode) for episode in ("e-1", "e-2")}
    assert len(names) == 2 and all(len(name) == 63 and not name.startswith("a" * 45) for name in names)
    assert job_name(long, "e-1") == job_name(long, "e-1")
    assert job_name(make_rollout(name="fraud"), "e-1").startswith("fraud-retrain-")


def test_evidence_too_long_for_an_annotation_becomes_a_shorter_json_saying_so() -> None:
    huge = {"values": ["x" * 100] * 1000}
    text = evidence_text(huge)
    summary = orjson.loads(text)
    assert len(text) <= MAX_EVIDENCE_CHARS and summary["truncated"] is True
    assert summary["chars"] == len(orjson.dumps(huge)) and orjson.dumps(huge).decode().startswith(summary["head"])
    assert evidence_text({"psi": 0.3}) == '{"psi":0.3}'


def test_the_episode_replaces_a_stale_variable_and_the_template_is_not_changed(make_rollout: RolloutFactory) -> None:
    action = _action()
    job = retraining_job(make_rollout(), action)
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert [(e["name"], e["value"]) for e in container["env"]] == [
        ("LR", "0.1"), ("MODELROLLOUT_EPISODE", "e-1"), ("MODELROLLOUT_EVIDENCE", '{"psi":0.3}'),
    ]  # fmt: skip
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert action.retraining.job == TEMPLATE and TEMPLATE["template"]["spec"]["containers"][0]["env"][0]["value"] == "stale"
    assert job["metadata"]["ownerReferences"][0]["uid"] == "uid-fraud"
