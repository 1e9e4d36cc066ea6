"""Credentials a metric source uses, named by reference: a key of a Secret the controller has mounted.

The controller holds no permission on Secrets. The chart mounts the Secrets listed in its value
`providerSecrets` (in the controller's own namespace) as files, and a reference names one of
them by Secret name and key; a reference to a Secret that is not mounted is an Error
measurement that says how to mount it, never a read through the API.
"""

from __future__ import annotations

from pydantic import Field

from controller.api.base import ApiModel

__all__ = ["SecretKeyRef", "BasicAuth", "SECRET_NAME_PATTERN", "SECRET_KEY_PATTERN"]

SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"


class SecretKeyRef(ApiModel):
    """A key of a Secret the chart mounts into the controller (chart value providerSecrets)."""

    name: str = Field(pattern=SECRET_NAME_PATTERN, max_length=253, description="The Secret, in the controller's namespace.")
    key: str = Field(pattern=SECRET_KEY_PATTERN, max_length=253)


class BasicAuth(ApiModel):
    """HTTP basic authentication, both parts from Secret keys."""

    username: SecretKeyRef
    password: SecretKeyRef
