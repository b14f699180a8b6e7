"""ember's own optimisation passes (the lowerings live in :mod:`ember.lowering`).

``PASSES`` maps each pass's name to its class, for ``ember-opt -p`` and
:func:`ember.registry.all_passes`.
"""

from ember.passes.bounds_checks import BoundsChecksPass
from ember.passes.canonicalize import CanonicalizePass
from ember.passes.forward_stores import ForwardStoresPass
from ember.passes.fuse_rows import FuseRowsPass
from ember.passes.invariant_divisor import InvariantDivisorPass
from ember.passes.share_recomputed import ShareRecomputedPass

PASSES = {p.name: p for p in (FuseRowsPass, ShareRecomputedPass, ForwardStoresPass,
                              InvariantDivisorPass, BoundsChecksPass, CanonicalizePass)}
