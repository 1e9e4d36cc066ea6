"""Condition and event reasons (fixed CamelCase constants) and the message templates that go with them.

Every sentence the engine writes into status or an event is formatted from a template here,
so a reader finds all of them in one place and the wording stays one vocabulary.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Message", "Reason"]


class Reason(StrEnum):
    # Steady states.
    INITIALIZED = "Initialized"
    PROMOTED = "Promoted"
    SCALED_DOWN = "ScaledDown"
    REVERTED = "Reverted"
    SPEC_CORRECTED = "SpecCorrected"
    SHADOW_VERDICT_PASSED = "ShadowVerdictPassed"
    SHADOW_VERDICT_FAILED = "ShadowVerdictFailed"
    # A rollout on its way.
    ROLLOUT_STARTED = "RolloutStarted"
    CANDIDATE_REPLACED = "CandidateReplaced"
    ROLLOUT_CANCELLED = "RolloutCancelled"
    WAITING_FOR_CANDIDATE = "WaitingForCandidate"
    WAITING_FOR_TRAFFIC = "WaitingForTraffic"
    STEP_COMPLETED = "StepCompleted"
    PAUSED_AT_STEP = "PausedAtStep"
    WAITING_FOR_PROMOTE = "WaitingForPromote"
    ANALYZING = "Analyzing"
    PROMOTE_FULL = "PromoteFull"
    WAITING_FOR_GATE = "WaitingForGate"
    # Holds that need a person (`Paused` is the event; the status names the hold).
    PAUSED = "Paused"
    ANALYSIS_INCONCLUSIVE = "AnalysisInconclusive"
    MANUAL_PAUSE = "ManualPause"
    RESUMED = "Resumed"
    # A metric's provider failed more than errorLimit times in a row: held, Stalled, until it answers.
    PROVIDER_UNAVAILABLE = "ProviderUnavailable"
    PROVIDER_RECOVERED = "ProviderRecovered"
    # Going back.
    ANALYSIS_FAILED = "AnalysisFailed"
    ABORTED = "Aborted"
    ROLLED_BACK = "RolledBack"
    UNDONE = "Undone"
    ROLLBACK_GATE = "RollbackGate"
    UNDO_WAITING = "UndoWaitingForRevision"
    # Input the engine cannot act on.
    INVALID_SPEC = "InvalidSpec"
    REQUEST_IGNORED = "RequestIgnored"
    # The TrafficApplied detail condition.
    TRAFFIC_APPLIED = "TrafficApplied"
    WAITING_FOR_ROUTERS = "WaitingForRouters"
    # The PredictionsReadable detail condition.
    PREDICTIONS_UNREADABLE = "PredictionsUnreadable"
    PREDICTIONS_READABLE = "PredictionsReadable"


class Message:
    """Templates, filled with `str.format`; each reads as one sentence."""

    INITIALIZED = "revision {stable} is stable with {replicas} replicas and serves all traffic"
    ROLLOUT_STARTED = "rolling out revision {candidate} over stable {stable} ({strategy}, {steps} steps)"
    RETRIED = "retry requested ({request}): rolling out revision {candidate} over stable {stable} again"
    CANDIDATE_REPLACED = (
        "the template changed mid-rollout: candidate {old} is replaced by {new}; "
        "stable {stable} serves all traffic meanwhile"
    )
    CANCELLED_TO_STABLE = "the template is back to stable revision {stable}: candidate {candidate} is scaled down"
    CANCELLED_TO_REJECTED = (
        "the template is rejected revision {rejected}: candidate {candidate} is scaled down; "
        "run retry to roll the rejected revision out again"
    )
    WAITING_FOR_CANDIDATE = (
        "step {index} ({step}): waiting for candidate {candidate} to be ready before it gets traffic"
    )
    WAITING_FOR_TRAFFIC = "step {index} ({step}): waiting for the routers to apply {split}"
    STEP_COMPLETED = "step {index} ({step}) completed"
    PAUSED_AT_STEP = "step {index} ({step}): {remaining:g}s left"
    WAITING_FOR_PROMOTE = "step {index} ({step}): waiting for a promote"
    ANALYZING = "step {index} ({step}): {progress}"
    WAITING_FOR_GATE = "step {index}: waiting for the {kind} gate {names} to say yes (last: {last})"
    ROLLBACK_GATE = "rollback gate {name} said yes: {detail}"
    PROMOTE_FULL = "promote --full requested ({request}): skipping to the final promotion"
    ANALYSIS_INCONCLUSIVE = (
        "{metric} ({scope}) was Inconclusive {streak} times in a row, more than inconclusiveLimit {limit}: "
        "{detail}; promote to skip the analysis, resume to measure again, or abort"
    )
    MANUAL_PAUSE = "paused by request {request}; resume to go on"
    PROVIDER_UNAVAILABLE = (
        "{metric} ({scope}): its {source} provider failed {errors} times in a row, more than errorLimit {limit}: "
        "{detail}; the rollout holds until it answers (abort to give up)"
    )
    PROVIDER_RECOVERED = "{metric} ({scope}): its {source} provider answers again after {errors} errors in a row"
    RESUMED = "resumed by request {request}"
    ANALYSIS_FAILED = "{detail} ({scope}, revision {candidate}); {failures}, over failureLimit {limit}"
    ABORTED = "aborted by request {request}"
    ROLLED_BACK = "candidate {candidate} rolled back, stable {stable} serves all traffic: {why}"
    PROMOTED = "revision {stable} promoted; the old stable {old} stays warm until {until}"
    SCALED_DOWN = "revision {revision} scaled down after promotion"
    SHADOW_VERDICT_PASSED = (
        "candidate {candidate} passed the shadow analysis; promote is false, so stable {stable} keeps serving "
        "and the candidate is scaled down"
    )
    SHADOW_VERDICT_FAILED = (
        "candidate {candidate} failed the shadow analysis: {why}; nothing live changed, stable {stable} keeps serving"
    )
    UNDONE = (
        "undo requested ({request}): revision {stable} serves all traffic again and revision {rejected} is rejected; "
        "revert spec.template in Git to revision {stable} so spec and cluster agree"
    )
    UNDO_WAITING = "undo requested ({request}): waiting for revision {revision} to be ready before traffic moves to it"
    REVERTED = "the template is back to stable revision {stable}"
    SPEC_CORRECTED = "the spec is valid again"
    INVALID_SPEC = "{first}"
    INVALID_SPEC_MORE = "{first} (and {more} more problem{plural})"
    REQUEST_IGNORED = "{action} ignored in phase {phase}: {why}"
    TRAFFIC_APPLIED = "the routers serve {split}"
    WAITING_FOR_ROUTERS = "the routers have not yet applied {split}"
    # No counts in it: the condition's message stays the same from one poll to the next.
    PREDICTIONS_UNREADABLE = (
        "most {variant} answers hold no predictions under {setting}; answers look like {sample}: "
        "metrics on predictions (shadow agreement, drift, accuracy) see too few samples; "
        "set the protocol the model speaks (auto, kserve-v1, oip-v2, or jsonpath with a jsonPath)"
    )
    PREDICTIONS_READABLE = "the routers read the predictions in the answers under {setting}"
