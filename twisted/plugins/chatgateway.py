"""twistd dropin: makes ``twistd chatgateway`` available. All logic lives in the package."""

from twistedchat.gateway.plugin import serviceMaker  # noqa: F401
