"""The EventSink that also notifies: each Event goes to the sink it wraps, then to the targets that want it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from controller.api.notifications import NotificationEvent
from controller.api.resource import ModelRollout
from controller.engine.actions import EmitEvent
from controller.notify.config import Subscription
from controller.notify.delivery import Notifier
from controller.notify.messages import notification_for
from controller.runtime.ports import EventSink

__all__ = ["NotifyingEventSink", "subscriptions_of"]


def subscriptions_of(rollout: ModelRollout, every_rollout: list[Subscription]) -> list[Subscription]:
    """The rollout's own subscriptions and the global ones."""
    own = [Subscription(target=n.target, events=n.events) for n in rollout.spec.notifications or []]
    return [*every_rollout, *own]


def _wants(subscription: Subscription, event: NotificationEvent) -> bool:
    return subscription.events is None or event in subscription.events


class NotifyingEventSink:
    def __init__(self, inner: EventSink, notifier: Notifier, now: Callable[[], datetime]) -> None:
        self._inner = inner
        self._notifier = notifier
        self._now = now

    async def emit(self, rollout: ModelRollout, event: EmitEvent) -> None:
        await self._inner.emit(rollout, event)
        notification = notification_for(rollout, event, self._now())
        if notification is None:
            return
        # One delivery per target even when the rollout and the global config both name it.
        targets = {s.target for s in subscriptions_of(rollout, self._notifier.config.every_rollout) if _wants(s, notification.event)}
        for target in sorted(targets):
            self._notifier.offer(target, notification)
