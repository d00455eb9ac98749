"""The hypothesis settings profile shared by every fuzz test.

``make test`` runs these with a modest budget so the whole directory stays well under a
minute; ``make fuzz`` sets ``FUZZ_EXAMPLES`` (for example 20000) to search much longer.
The profile is registered but never loaded globally, so other test directories keep
their own hypothesis settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: Examples per property: small by default, large when FUZZ_EXAMPLES is set.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))

settings.register_profile(
    "fuzz",
    max_examples=EXAMPLES,
    deadline=None,  # timing varies with the machine; a fuzz run looks for wrong answers
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Decorate each fuzz property with this.
FUZZ = settings.get_profile("fuzz")
#: For properties whose examples are an order of magnitude more expensive (whole streams).
FUZZ_HEAVY = settings(FUZZ, max_examples=max(10, EXAMPLES // 4))
