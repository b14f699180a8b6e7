"""How many threads compiled code runs its parallel loops on.

    import ember
    ember.set_num_threads(2)     # every compiled function, from its next call on
    ember.get_num_threads()      # -> 2

The default is ``$EMBER_NUM_THREADS`` if set (read once, at import), else the number of
cores this process may run on (``os.sched_getaffinity``).  A loop runs on at most this many
threads, and on one when it is too small to gain (see ``parallel-outline`` in
docs/passes.md).  The setting is process-wide: all compiled functions share one runtime and
its thread pool, which reads it at every parallel loop.
"""

from ember.lowering.parallel_runtime import get_num_threads, set_num_threads

__all__ = ["set_num_threads", "get_num_threads"]
