"""Webhook gates, in the style Flagger users know: `spec.webhooks`.

Each gate is a URL the controller POSTs the rollout's context to, with a timeout and retries.
A 2xx answer is a yes; anything else, or no answer after the retries, is a no. What a yes or a
no does depends on the gate's type:

- `confirm-rollout`, then `pre-rollout`: asked before the first step runs (the candidate is up
  but serves nothing); a no holds the rollout there and asks again.
- `confirm-promotion`: asked before the final promotion; a no holds it there.
- `rollback`: asked every `interval` while the rollout runs; a yes rolls the candidate back.
- `post-rollout`: told once the rollout has ended (promoted, rolled back, aborted or judged);
  its answer changes nothing.

Every answer of a holding or rollback gate is recorded in the evidence trail with its reason.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from controller.api.base import ApiModel, Duration, HttpAddress

__all__ = ["GateType", "WebhookGate", "MAX_GATES", "HOLDING_GATES"]

MAX_GATES = 20


class GateType(StrEnum):
    CONFIRM_ROLLOUT = "confirm-rollout"
    PRE_ROLLOUT = "pre-rollout"
    CONFIRM_PROMOTION = "confirm-promotion"
    POST_ROLLOUT = "post-rollout"
    ROLLBACK = "rollback"


# Gates whose no holds the rollout where it stands.
HOLDING_GATES = frozenset({GateType.CONFIRM_ROLLOUT, GateType.PRE_ROLLOUT, GateType.CONFIRM_PROMOTION})


class WebhookGate(ApiModel):
    """A URL asked at one point of the rollout: a 2xx answer is a yes, anything else a no."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    type: GateType
    url: HttpAddress
    timeout: Duration = Field(default=10.0, description="How long one try may take.")
    retries: int = Field(default=2, ge=0, le=10, description="Tries after a failed one (no answer or a 5xx) before it counts as a no.")
    interval: Duration = Field(default=30.0, description="How often a rollback gate is asked while the rollout runs.")
    metadata: dict[str, str] = Field(default_factory=dict, description="Sent along with the rollout's context.")
