"""Hypothesis profiles for the property tests, chosen by HYPOTHESIS_PROFILE (default: `default`).

    default  small and reproducible: the whole suite stays fast; derandomized, so CI runs the same
             examples every time; no deadline (a verdict's first run compiles its plan).
    fuzz     100,000 examples per property, no deadline, random seeds, for long runs by hand:
             HYPOTHESIS_PROFILE=fuzz python3 -m pytest tests/test_properties.py -q -p no:cacheprovider
             (HYPOTHESIS_FUZZ_EXAMPLES=10000 sets another count for a shorter run)

A test's own @settings(...) wins over the profile for the keys it sets (max_examples, deadline ...);
keys it leaves out come from the profile. No example database is written (database=None):
a failure prints its example and a @reproduce_failure blob instead. Only the tests read the
environment; the engine does not.
"""
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis writes failure patches under its home folder: keep them out of the working copy.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "policy-engine-hypothesis")

settings.register_profile(
    "default", max_examples=30, deadline=None, derandomize=True, print_blob=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("HYPOTHESIS_FUZZ_EXAMPLES", "100000")), deadline=None,
    derandomize=False, print_blob=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# The command line keeps verified policies in a cache folder (policy/cache.py); the tests give it
# one of their own, so a run neither reads nor fills the user's ~/.cache. Tests of the cache
# itself set POLICY_ENGINE_CACHE to a folder of their own.
os.environ.setdefault("POLICY_ENGINE_CACHE", tempfile.mkdtemp(prefix="policy-engine-cache-"))
