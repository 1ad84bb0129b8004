"""The default backoff's jitter, drawn from the library's own random generator.

tenacity's ``wait_random_exponential`` draws from the ``random`` module's shared state: a
program that seeds ``random`` for its own reproducible sequence would see it moved by every
retry, from whatever thread the retry ran in (and Hypothesis, which watches that state while it
generates examples, fails a test when a background retry moves it). This subclass draws the
same full-jitter wait, uniform in ``[min, 0.5 s x 2^(n-1)]`` at most ``max``, from a generator
of its own. Loaded with tenacity, on the first backoff computed (see ``_policy._DefaultWait``).
"""

from __future__ import annotations

import random

import tenacity

#: The library's own generator: its draws leave ``random``'s shared state alone.
RANDOM = random.Random()


class wait_random_exponential(tenacity.wait_random_exponential):
    """tenacity's full-jitter exponential backoff, drawing from :data:`RANDOM`."""

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        high = tenacity.wait_exponential.__call__(self, retry_state)
        return RANDOM.uniform(self.min, high)
