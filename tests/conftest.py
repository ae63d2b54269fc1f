"""Settings for the whole test suite.

Hypothesis profiles: ``ci`` (selected when ``CI=true``, as CI services set it) runs more examples;
``dev`` (the default) keeps a local run quick. ``HYPOTHESIS_PROFILE=NAME`` picks one explicitly.
Neither has a deadline: a slow or busy machine must not turn a property into a flaky failure.
Tests that name their own ``max_examples`` keep it.
"""

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=200, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev"))
