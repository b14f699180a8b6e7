"""Test-suite settings shared by every file.

Hypothesis runs derandomized by default, so a CI run is reproducible: the same examples every
time, and a failure seen once is seen again. ``EMBER_FUZZ=long`` switches to fresh random
examples (and more of them, in the files that read it) for fuzzing sessions.
"""

import os

from hypothesis import settings

settings.register_profile("ember-ci", derandomize=True, print_blob=True)
settings.register_profile("ember-fuzz", derandomize=False, print_blob=True)
settings.load_profile("ember-fuzz" if os.environ.get("EMBER_FUZZ") == "long" else "ember-ci")

# Compiled code goes to a disk cache of this test session's own, never the user's; tests of
# the cache itself set EMBER_CACHE_DIR for their subprocesses.
if "EMBER_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["EMBER_CACHE_DIR"] = tempfile.mkdtemp(prefix="ember-test-cache-")
