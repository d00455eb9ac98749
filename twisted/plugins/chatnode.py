"""twistd dropin: makes ``twistd chatnode`` available. All logic lives in the package."""

from twistedchat.node.plugin import serviceMaker  # noqa: F401
