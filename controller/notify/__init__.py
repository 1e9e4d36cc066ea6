"""Notifications: a rollout's transitions told to JSON webhooks and Slack-compatible incoming webhooks.

An adapter beside the EventSink: every Event the engine asks for is also offered to the
notifier, which queues it and delivers in the background with retries, so a slow or broken
receiver never holds or slows a rollout.
"""
