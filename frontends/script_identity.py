"""Python's array identity in the script frontend (mixed into the function builder).

Python names refer to array objects: after ``y = x``, ``y[0] = 1`` changes ``x`` too, and a
write into an argument changes the caller's array. The tensor stage has value semantics, so
the frontend makes its SSA values say what the names mean:

* each name's ``TValue`` carries the array object it holds (``TValue.obj``); an element write
  rebinds every name of that object (``write``);
* ``if`` and loops carry the aliases of the names they assign (``_with_aliases``), and a loop
  carries one value per object (the other names follow it);
* a name whose object depends on the path, or on the iteration, holds only a possible view of
  the candidates (``TValue.views``): writing through it, or reading it after one of them was
  written, is a ``ScriptError``;
* the last value of a written argument that no name holds any more is kept alive
  (``etensor.keep``), so that its writes are not dead code.
"""

from __future__ import annotations

import numpy as np

from ember.dialects import etensor as T
from ember.frontends.builder import ArrayObject, TValue


#: NumPy functions and array methods whose result is a view of their first argument
VIEW_FUNCTIONS = {np.transpose, np.reshape, np.ravel, np.squeeze, np.expand_dims,
                  np.broadcast_to, np.swapaxes, np.moveaxis, np.atleast_1d, np.atleast_2d,
                  np.atleast_3d, np.diagonal}
VIEW_METHODS = {"reshape", "transpose", "ravel", "squeeze", "swapaxes", "view", "diagonal"}


def view_of(base, result):
    """``result`` (a slice, ``.T``, a reshape... of ``base``) marked as a possible view of
    ``base``'s array object: ember computes it as a copy, so writes through it are refused
    and reading it after ``base`` was written is an error."""
    if not (isinstance(base, TValue) and isinstance(result, TValue) and result.rank):
        return result
    if base.obj is None and not base.views:
        return result
    if result.obj is not None:  # the object itself (``np.asarray``-like): not a view
        return result
    marks = ((base.obj, base.obj.version),) if base.obj is not None else ()
    return TValue(result.ssa, result.weak, None, marks + base.views)


class ArrayIdentityMixin:
    """Array-object bookkeeping for ``ControlFlowMixin`` (see the module docstring)."""

    _variant: set = frozenset()
    _followers: dict = {}
    _split: set = set()
    last_followers: dict = {}

    def _holders(self, obj, env=None) -> list[str]:
        env = self.env if env is None else env
        return [n for n, v in env.items() if isinstance(v, TValue) and v.obj is obj]

    def _shared(self, name: str, obj) -> bool:
        """Whether a name other than ``name`` holds ``obj`` (or sees it through a view)."""
        return any(n != name and isinstance(v, TValue)
                   and (v.obj is obj or any(o is obj for o, _ in v.views))
                   for n, v in self.env.items())

    def _with_aliases(self, names: list[str]) -> list[str]:
        """``names`` and the names that hold the same array objects (they see its writes)."""
        objs = [v.obj for n in names if isinstance(v := self.env.get(n), TValue) and v.obj is not None]
        extra = [n for n, v in self.env.items() if n not in names and isinstance(v, TValue)
                 and v.obj is not None and any(v.obj is o for o in objs)]
        return list(names) + extra

    def _entry_value(self, name: str, before, arg, weak) -> TValue:
        """A carried name at the start of a loop body or condition: the object it held before
        the loop, unless the loop rebinds it to another object while another name holds that
        one (then it is only possibly that object: no writes through it)."""
        if not isinstance(before, TValue):
            return TValue(arg, weak)
        if name in self._variant:
            marks = ((before.obj, before.obj.version),) if before.obj is not None else ()
            return TValue(arg, weak, None, marks + before.views)
        return TValue(arg, weak, before.obj, before.views)

    def _rebind_after(self, bound: list) -> None:
        """Bind names to the results of an ``if`` or a loop: ``(name, result, candidates)``
        with the values the name may hold (one per path, or before and after an iteration)."""
        pending = []
        for name, result, candidates in bound:
            objs = list({id(c.obj): c.obj for c in candidates}.values())
            views = tuple(dict.fromkeys(v for c in candidates for v in c.views))
            if len(objs) == 1:
                self.env[name] = TValue(result.ssa, result.weak, objs[0], views)
                if objs[0] is not None:
                    self.latest[objs[0]] = self.env[name]
            else:
                # a candidate that is itself only a possible view stands for its objects
                maybe = any(c.obj is None and c.views for c in candidates)
                objs = [o for o in objs if o is not None] + [
                    o for c in candidates if c.obj is None for o, _ in c.views]
                pending.append((name, result, objs, views, maybe))
                self.env[name] = TValue(result.ssa, result.weak, None, views)
        for name, result, objs, views, maybe in pending:
            others = [o for m, _, theirs, _, _ in pending if m != name for o in theirs]
            if maybe or any(self._shared(name, o) or any(o is x for x in others) for o in objs):
                # possibly one of several objects, which another name may hold too
                views = tuple((o, o.version) for o in objs) + views
                self.env[name] = TValue(result.ssa, result.weak, None, views)
            elif result.rank:
                self.env[name] = TValue(result.ssa, result.weak, ArrayObject(name), views)

    def write(self, x: TValue, new: TValue) -> None:
        """``new`` is array object ``x.obj`` after an element write: every name holding it
        is rebound, and views taken of it before become stale."""
        obj = x.obj
        obj.version += 1
        self.latest[obj] = new
        for n in self._holders(obj):
            self.env[n] = TValue(new.ssa, self.env[n].weak, obj, self.env[n].views)

    def keep_written(self, v: TValue) -> None:
        """Keep the value of an argument's array that was written (``etensor.keep``), where
        no name may hold it any more (a rebinding, a return): its writes are the caller's."""
        if v.obj.argument and v.obj.version:
            self.tb.emit(T.KeepOp(v.ssa))

    def _object_versions(self, names) -> dict:
        """The array objects held by ``names`` that are not carried, with their versions."""
        return {v.obj: v.obj.version for n, v in self.env.items()
                if n not in names and isinstance(v, TValue) and v.obj is not None}

    def _written_since(self, versions: dict) -> list[str]:
        """Names holding an object of ``versions`` written since (by an inlined call: the
        statements did not name it), to be carried as well."""
        changed = [o for o, k in versions.items() if o.version != k]
        return [n for o in changed for n in self._holders(o)]

    def _followers_of(self, carried: list[str]) -> dict[str, str]:
        """Names holding the same array (and value) as an earlier carried name follow it: a
        loop carries one value per array object, so that bufferization updates it in place."""
        followers: dict[str, str] = {}
        for k, n in enumerate(carried):
            v = self.env[n]
            if not (isinstance(v, TValue) and v.obj is not None):
                continue
            leader = next((m for m in carried[:k] if m not in followers
                           and isinstance(w := self.env[m], TValue) and w.obj is v.obj
                           and w.ssa is v.ssa), None)
            if leader is not None:
                followers[n] = leader
        return followers

    def _variant_names(self, carried: list[str], followers: dict, inits: list, yielded: list) -> set[str]:
        """The carried names whose array object changes from one iteration to the next in a
        way the body's single view of them cannot follow: they held an array another name
        also held, or they end an iteration holding an array another name holds then, or
        possibly one (the next iteration would start with them aliased). A permutation
        (``a, b = b, a``) is not variant: the arrays stay distinct."""
        ends = {n: y.obj for n, y in zip(carried, yielded) if y.obj is not None}

        def aliased_next(n: str, obj) -> bool:
            return any(m != n and o is obj for m, o in ends.items()) or any(
                m not in carried and m not in followers and isinstance(v, TValue) and v.obj is obj
                for m, v in self.env.items())

        return {n for n, v, y in zip(carried, inits, yielded)
                if v.obj is not None and y.obj is not v.obj
                and (self._shared(n, v.obj) or (y.obj is None and bool(y.views))
                     or (y.obj is not None and aliased_next(n, y.obj)))}

    def _bind_followers(self, env_before: dict) -> None:
        """At a loop body's start: the followers hold their leader's value."""
        for f, leader in self._followers.items():
            v = self.env[leader]
            self.env[f] = TValue(v.ssa, env_before[f].weak, v.obj, v.views)

    def _check_followers(self) -> None:
        """At a body's end: a follower the body rebound to another array is carried itself."""
        for f, leader in self._followers.items():
            v, w = self.env.get(f), self.env.get(leader)
            if not (isinstance(v, TValue) and isinstance(w, TValue) and v.obj is w.obj
                    and v.ssa is w.ssa):
                self._split.add(f)

    def rebind_followers(self) -> None:
        """After a loop: the followers hold their leader's result."""
        for f, leader in self.last_followers.items():
            v = self.env[leader]
            self.env[f] = TValue(v.ssa, None, v.obj, v.views)
