"""`PredictionsReadable`: a protocol setting that reads nothing in the answers is said, not guessed at.

With `predictions.protocol: kserve-v1` before a model that speaks Open Inference Protocol v2,
every answer is "not analysed" and a rollout gated on shadow agreement only ever sees too few
samples. When most answers the routers saw since the last poll hold no predictions under the
setting, the condition turns False (reason `PredictionsUnreadable`) with a Warning event naming
the setting and what the answers look like; once they are read again it turns True with a
Normal event. The condition appears only once answers went unreadable, so rollouts whose
setting reads their model carry no extra condition; a poll with too few answers changes nothing.
"""

from __future__ import annotations

from controller.api.spec import PredictionSpec
from controller.api.status import ConditionStatus
from controller.engine.conditions import PREDICTIONS_READABLE, find_condition, set_condition
from controller.engine.inputs import PredictionsReading
from controller.engine.plan import Context, Plan
from controller.engine.reasons import Message, Reason

__all__ = ["MIN_ANSWERS", "mostly_unreadable", "setting_of", "watch_predictions"]

# Fewer answers than this are no verdict on the setting: a few error pages at start-up are not one.
MIN_ANSWERS = 10


def mostly_unreadable(reading: PredictionsReading) -> bool:
    return reading.answers >= MIN_ANSWERS and 2 * reading.unreadable > reading.answers


def setting_of(predictions: PredictionSpec) -> str:
    """The spec field a person edits, as it is written."""
    setting = f"spec.router.predictions.protocol: {predictions.protocol}"
    if predictions.json_path is not None:
        setting += f", spec.router.predictions.jsonPath: {predictions.json_path}"
    return setting


def watch_predictions(plan: Plan, ctx: Context) -> Plan:
    """Turn PredictionsReadable False (Warning) or back True (Normal) as the routers' reading says."""
    reading = ctx.observations.predictions
    if reading is None or reading.answers < MIN_ANSWERS:
        return plan
    existing = find_condition(plan.status.conditions, PREDICTIONS_READABLE)
    setting = setting_of(ctx.spec.router.predictions)
    if mostly_unreadable(reading):
        message = Message.PREDICTIONS_UNREADABLE.format(
            variant=reading.variant, setting=setting, sample=reading.sample or "nothing recorded"
        )
        # One Warning as it turns False: a sample that varies between polls must not spam events.
        changed = existing is None or existing.status != ConditionStatus.FALSE
        conditions = set_condition(
            plan.status.conditions, PREDICTIONS_READABLE, False, Reason.PREDICTIONS_UNREADABLE, message, ctx.now, ctx.rollout.generation
        )
        plan = plan.update(conditions=conditions)
        return plan.event(Reason.PREDICTIONS_UNREADABLE, message, "Warning") if changed else plan
    if existing is None or existing.status == ConditionStatus.TRUE:
        return plan
    message = Message.PREDICTIONS_READABLE.format(setting=setting)
    conditions = set_condition(
        plan.status.conditions, PREDICTIONS_READABLE, True, Reason.PREDICTIONS_READABLE, message, ctx.now, ctx.rollout.generation
    )
    return plan.update(conditions=conditions).event(Reason.PREDICTIONS_READABLE, message)
