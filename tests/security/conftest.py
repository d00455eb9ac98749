"""The security tests start real nodes too: they are watched like the integration tests'
(a node that crashed or logged a traceback fails the test, see tests/integration/harness)."""

from __future__ import annotations

from tests.integration.conftest import watched_processes

__all__ = ["watched_processes"]
