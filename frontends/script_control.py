"""Control flow for the script frontend: ``if``/``elif``/``else``, ``for ... in range``,
``while``, conditional expressions, early ``return``, element reads and writes.

Python variables become SSA values threaded through ``scf`` regions: a variable assigned in
a branch or loop body that exists before it is carried (``scf.if`` results, ``scf.for``
iter_args). Types are unified across branches and iterations with NumPy's promotion rules
(``int`` joined with ``float`` is ``float``); a name that is a tensor on one path and a
scalar on another is an error.
"""

from __future__ import annotations

import ast

from xdsl.builder import Builder
from xdsl.dialects import arith, cf, scf
from xdsl.dialects.builtin import ArrayAttr, IndexType, StringAttr
from xdsl.ir import Block, Region
from xdsl.rewriter import InsertPoint

from ember.dialects import shapes as S
from ember.errors import ScriptError
from ember.frontends import prange as P
from ember.frontends.builder import BuildError, Dim, TValue
from ember.frontends.script_identity import ArrayIdentityMixin
from ember.frontends.slicing import Slice, build_slice


def assigned_names(stmts: list[ast.stmt]) -> list[str]:
    """Names a statement list may rebind (including element writes ``x[i] = v``)."""
    names: list[str] = []

    def target(t):
        if isinstance(t, ast.Name):
            names.append(t.id)
        elif isinstance(t, ast.Tuple | ast.List):
            for e in t.elts:
                target(e)
        elif isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
            names.append(t.value.id)

    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    target(t)
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                target(node.target)
            elif isinstance(node, ast.For):
                target(node.target)
    return list(dict.fromkeys(names))


def always_returns(stmts: list[ast.stmt]) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    return isinstance(last, ast.If) and always_returns(last.body) and always_returns(last.orelse)


def _own_exits(stmts: list[ast.stmt]) -> set[type]:
    """The kinds of ``break``/``continue`` in ``stmts`` that belong to the enclosing loop."""
    found: set[type] = set()

    def walk(node):
        if isinstance(node, ast.Break | ast.Continue):
            found.add(type(node))
        if isinstance(node, ast.For | ast.While | ast.FunctionDef | ast.Lambda):
            return
        for child in ast.iter_child_nodes(node):
            walk(child)

    for s in stmts:
        walk(s) if not isinstance(s, ast.For | ast.While) else None
    return found


def _always_exits(stmts: list[ast.stmt]) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Break | ast.Continue):
        return True
    return isinstance(last, ast.If) and _always_exits(last.body) and _always_exits(last.orelse)


def _set(name: str, value, at: ast.AST) -> ast.stmt:
    node = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value)
    return ast.fix_missing_locations(ast.copy_location(node, at))


def rewrite_exits(stmts: list[ast.stmt], flag: str | None) -> list[ast.stmt]:
    """Structured form of a loop body: ``break`` sets ``flag`` and skips the rest,
    ``continue`` skips the rest (the statements after an exiting ``if`` move into the
    branch that does not exit)."""
    out: list[ast.stmt] = []
    for k, s in enumerate(stmts):
        if isinstance(s, ast.Break):
            out.append(_set(flag, ast.Constant(True), s))
            return out
        if isinstance(s, ast.Continue):
            return out
        if isinstance(s, ast.If) and _own_exits([s]):
            rest = stmts[k + 1:]
            body = s.body if _always_exits(s.body) else s.body + rest
            orelse = s.orelse if _always_exits(s.orelse) else s.orelse + rest
            new = ast.If(test=s.test, body=rewrite_exits(body, flag) or [ast.Pass()],
                         orelse=rewrite_exits(orelse, flag))
            out.append(ast.fix_missing_locations(ast.copy_location(new, s)))
            return out
        out.append(s)
    return out


class ControlFlowMixin(ArrayIdentityMixin):
    """Statement and expression visitors for control flow (mixed into the function builder)."""

    # -- helpers ---------------------------------------------------------------------

    def _live(self, name: str, env: dict | None = None) -> bool:
        """Whether ``name`` has a value (not unset, not private to an earlier prange)."""
        env = self.env if env is None else env
        return name in env and not isinstance(env[name], P.Private | ReusedLoopVariable)

    def _carry(self, value, node, name: str) -> TValue:
        """A value that can cross a region boundary (an SSA tensor)."""
        if isinstance(value, tuple) and len(value) == 3 and value[0] == "scalar":
            value = self.tb.from_scalar(value[1], weak=value[2])
        if isinstance(value, Dim):
            return self.tb.from_index(value.ssa)
        if isinstance(value, bool | int | float):
            return self.tb.literal(value)
        if isinstance(value, TValue):
            return value
        self.fail(node, f"variable '{name}' holds a {type(value).__name__}, which cannot change "
                        "inside control flow", "control flow")

    def _join(self, node, name: str, a: TValue, b: TValue) -> tuple:
        """The (type, weak) both values convert to; errors for branch-dependent kinds."""
        if a.rank != b.rank or (a.rank and a.shape != b.shape):
            what = "a tensor" if a.rank else "a scalar"
            other = "a tensor" if b.rank else "a scalar"
            if a.rank and b.rank:
                what, other = f"shape {S.format_shape(a.shape)}", f"shape {S.format_shape(b.shape)}"
            self.fail(node, f"variable '{name}' is {what} on one path and {other} on another",
                      "branch-dependent type", "give the variable the same kind on every path")
        element = self.tb.result_element(a, b)
        return S.tensor_type(a.shape, element), self.tb.joint_weak(a, b)

    def _convert(self, v: TValue, kind: tuple) -> TValue:
        t, weak = kind
        v = self.tb.cast(v, t.element_type)
        return TValue(v.ssa, weak)

    def _in_block(self, block: Block, fn):
        saved = self.tb.b
        self.tb.b = Builder(InsertPoint.at_end(block))
        try:
            return fn()
        finally:
            self.tb.b = saved

    def _index(self, v, node) -> "object":
        try:
            return self.tb.to_index(v)
        except BuildError as e:
            self.fail(node, str(e), "index")

    # -- if ----------------------------------------------------------------------------

    def _branch(self, stmts, names, env):
        block = Block()
        saved_env = self.env
        self.env = dict(env)

        def run():
            for s in stmts:
                self._stmt(s)
            return [self._carry(self.env[n], s if stmts else None, n) if self._live(n) else None
                    for n in names]

        try:
            values = self._in_block(block, run)
        finally:
            self.env = saved_env
        return block, values

    def stmt_If(self, node: ast.If):
        cond = self._condition(node.test)
        names = self._with_aliases(assigned_names(node.body + node.orelse))
        env = self.env
        while True:
            versions = self._object_versions(names)
            then_block, then_vals = self._branch(node.body, names, env)
            else_block, else_vals = self._branch(node.orelse, names, env)
            missing = [n for n in self._written_since(versions) if n not in names]
            if not missing:
                break
            names = names + missing  # written by an inlined call: carried too
            for block in (then_block, else_block):
                block.drop_all_references()
        kept, kinds, followers = [], [], {}
        for n, a, b in zip(names, then_vals, else_vals):
            if a is None or b is None:  # not defined on both paths: only usable inside
                if self._live(n, env):
                    a = a or self._carry(env[n], node, n)
                    b = b or self._carry(env[n], node, n)
                else:
                    continue
            # a name holding the same array with the same value on both paths as an earlier
            # one follows it: one result per array object (bufferization writes it in place)
            leader = next((m for m, a2, b2 in kept if a.obj is not None and a.obj is a2.obj
                           and b.obj is b2.obj and a.ssa is a2.ssa and b.ssa is b2.ssa), None)
            if leader is not None:
                followers[n] = leader
                continue
            kept.append((n, a, b))
            kinds.append(self._join(node, n, a, b))
        self._finish_branches(then_block, [a for _, a, _ in kept], kinds)
        self._finish_branches(else_block, [b for _, _, b in kept], kinds)
        op = self.tb.emit(scf.IfOp(cond, [k[0] for k in kinds], Region(then_block), Region(else_block)))
        self._rebind_after([(n, TValue(r, weak), (a, b)) for (n, a, b), r, (_, weak)
                            in zip(kept, op.results, kinds)])
        for f, leader in followers.items():
            v = self.env[leader]
            self.env[f] = TValue(v.ssa, v.weak, v.obj, v.views)

    def _finish_branches(self, block: Block, values, kinds):
        def run():
            converted = [self._convert(v, k).ssa for v, k in zip(values, kinds)]
            self.tb.emit(scf.YieldOp(*converted))
        self._in_block(block, run)

    def _condition(self, node):
        try:
            return self.tb.condition(self.expr(node))
        except BuildError as e:
            self.fail(node, str(e), "condition", "use np.where for elementwise choices")

    def returning_if(self, node: ast.If, then_stmts, else_stmts):
        """``if`` where both paths end in ``return``: the ``scf.if`` yields the results."""
        cond = self._condition(node.test)
        outs = []
        blocks = []
        for stmts in (then_stmts, else_stmts):
            block = Block()
            saved = self.env
            self.env = dict(saved)
            try:
                result = self._in_block(block, lambda: self._body(stmts))
            finally:
                self.env = saved
            outs.append(result)
            blocks.append(block)
        single = not isinstance(outs[0], tuple) and not isinstance(outs[1], tuple)
        outs = [o if isinstance(o, tuple) else (o,) for o in outs]
        if len(outs[0]) != len(outs[1]):
            self.fail(node, "both paths must return the same number of values", "return")
        kinds = [self._join(node, f"<result {k}>", a, b) for k, (a, b) in enumerate(zip(*outs))]
        for block, vals in zip(blocks, outs):
            self._finish_branches(block, vals, kinds)
        op = self.tb.emit(scf.IfOp(cond, [k[0] for k in kinds], Region(blocks[0]), Region(blocks[1])))
        results = tuple(TValue(r, w) for r, (_, w) in zip(op.results, kinds))
        return results[0] if single else results

    def expr_IfExp(self, node: ast.IfExp):
        cond = self._condition(node.test)
        blocks, vals = [], []
        for branch in (node.body, node.orelse):
            block = Block()
            vals.append(self._in_block(block, lambda b=branch: self._carry(self.expr(b), b, "<branch>")))
            blocks.append(block)
        kind = self._join(node, "<conditional expression>", vals[0], vals[1])
        for block, v in zip(blocks, vals):
            self._finish_branches(block, [v], [kind])
        op = self.tb.emit(scf.IfOp(cond, [kind[0]], Region(blocks[0]), Region(blocks[1])))
        return TValue(op.results[0], kind[1])

    # -- loops -------------------------------------------------------------------------

    def _loop(self, node, body_stmts, carried, make_op):
        """Build a loop whose body rebinds ``carried``; rebuilds until types are stable, and
        until the names whose array object changes from one iteration to the next are known."""
        followers = self._followers_of(carried)
        carried[:] = [n for n in carried if n not in followers]
        inits = [self._carry(self.env[n], node, n) for n in carried]
        kinds = [(v.ssa.type, v.weak) for v in inits]
        variant: set[str] = set()
        outer = self._variant, self._followers, self._split
        try:
            for _ in range(8):
                self._variant, self._followers, self._split = variant, followers, set()
                versions = self._object_versions(carried + list(followers))
                op, yielded = make_op([k[0] for k in kinds], kinds, body_stmts)
                missing = [n for n in self._written_since(versions)
                           if n not in carried and n not in followers]
                missing += [n for n in self._split if n not in missing]
                for n in self._split:
                    del followers[n]
                new = [self._join(node, n, TValue(_ssa_like(k[0]), k[1]), y)
                       for n, k, y in zip(carried, kinds, yielded)]
                more = variant | self._variant_names(carried, followers, inits, yielded)
                if new == kinds and more == variant and not missing:
                    self.last_followers = followers
                    return op, kinds, inits
                kinds, variant = new, more
                for n in missing:  # carried from now on (the callers see the same list)
                    carried.append(n)
                    inits.append(self._carry(self.env[n], node, n))
                    kinds.append((inits[-1].ssa.type, inits[-1].weak))
                op.drop_all_references()
        finally:
            self._variant, self._followers, self._split = outer
        self.fail(node, "could not settle the types of loop variables", "loop")

    def _loop_body(self, block: Block, carried, kinds, stmts, ivs=()):
        """Run ``stmts`` in ``block`` whose args are bound to ``carried``; returns yields."""
        saved = self.env
        self.env = dict(saved)
        for n, arg, (_, weak) in zip(carried, block.args[len(ivs):], kinds):
            self.env[n] = self._entry_value(n, saved.get(n), arg, weak)
        self._bind_followers(saved)

        def run():
            for s in stmts:
                self._stmt(s)
            self._check_followers()
            return [self._carry(self.env[n], stmts[-1], n) for n in carried]

        try:
            return self._in_block(block, run)
        finally:
            self.env = saved

    def stmt_For(self, node: ast.For):
        if node.orelse:
            self.fail(node, "for/else is not supported", "for/else")
        it = node.iter
        parallel = self._is_prange(it)
        is_range = isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
        if not ((is_range or parallel) and 1 <= len(it.args) <= 3 and not it.keywords):
            self.fail(it, "only 'for i in range(...)' loops are supported", "for loop",
                      "iterate over indices: for i in range(len(x)) (or ember.prange)")
        if not isinstance(node.target, ast.Name):
            self.fail(node.target, "the loop variable must be a single name", "for loop")
        plan = P.plan(self, node, {n for n in self.env if self._live(n)}) if parallel else None
        exits = _own_exits(node.body)
        if ast.Break in exits:
            return self._for_with_break(node)
        if exits:
            body = rewrite_exits(node.body, None) or [ast.copy_location(ast.Pass(), node)]
            node = ast.copy_location(ast.For(node.target, node.iter, body, [], None), node)
        args = [self.expr(a) for a in it.args]
        start, stop, step = (0, args[0], 1) if len(args) == 1 else (*args, 1)[:3]
        lb, ub, st, first, stride, nonneg = self._range_bounds(node, start, stop, step)
        if plan is not None and plan.shared and not nonneg:
            self._check_prange_signs(it, start, stop, step)
        var = node.target.id
        carried = [n for n in self._with_aliases(assigned_names(node.body))
                   if self._live(n) and n != var]
        if plan is not None:  # private names start unset in each iteration
            carried = [n for n in carried if n not in plan.private]
            for n in plan.private:
                self.env.pop(n, None)

        def make(types, kinds, stmts):
            block = Block(arg_types=[IndexType(), *types])

            def bind_iv():
                k = block.args[0]
                if stride is None:
                    return Dim(k, nonneg=nonneg)
                scaled = self.tb.emit(arith.MuliOp(k, stride)).results[0]
                return Dim(self.tb.emit(arith.AddiOp(first, scaled)).results[0], nonneg=nonneg)

            saved = self.env.get(var)
            self.env[var] = self._in_block(block, bind_iv)
            try:
                yielded = self._loop_body(block, carried, kinds, stmts, ivs=[0])
            finally:
                if saved is None:
                    self.env.pop(var, None)
                else:
                    self.env[var] = saved
            return _Payload((block, yielded)), yielded

        (block, yields), kinds, inits = self._loop(node, node.body, carried, make)
        self._yield(block, yields, kinds)
        init_vals = [self._convert(v, k).ssa for v, k in zip(inits, kinds)]
        op = self.tb.emit(scf.ForOp(lb, ub, st, init_vals, block))
        self._rebind_after([(n, TValue(r, weak), (v, y)) for n, r, (_, weak), v, y
                            in zip(carried, op.results, kinds, inits, yields)])
        self.rebind_followers()
        if plan is None and var in assigned_names(node.body):
            self.env[var] = ReusedLoopVariable(var, node.lineno + self.src.first_line - 1)
        elif plan is None:
            self._bind_last(var, lb, ub, st, first, stride)
        if plan is not None:
            op.attributes["ember.prange"] = self._prange_kinds(node, plan, carried, kinds)
            line = node.lineno + self.src.first_line - 1
            for n in plan.private:  # also names new in the body: not a global after it
                self.env[n] = P.Private(n, line)

    def _bind_last(self, var: str, lb, ub, st, first, stride) -> None:
        """After ``for var in range(...)``, ``var`` holds its last value, as in Python (its
        value before the loop when the loop did not run)."""
        tb = self.tb
        before = self.env.get(var)
        if isinstance(before, int) and not isinstance(before, bool):
            before = Dim(tb.index_const(before))
        if before is not None and not isinstance(before, Dim):
            return  # a float or an array before the loop: left as it was (ember's limit)
        i64 = [tb.emit(arith.IndexCastOp(v, S.i64)).results[0] for v in (lb, ub, st)]
        one = tb.scalar_const(1, S.i64)
        span = tb.emit(arith.SubiOp(tb.emit(arith.SubiOp(i64[1], i64[0])).results[0], one)).results[0]
        steps = tb.emit(arith.DivSIOp(span, i64[2])).results[0]
        last = tb.emit(arith.AddiOp(i64[0], tb.emit(arith.MuliOp(steps, i64[2])).results[0])).results[0]
        last = tb.emit(arith.IndexCastOp(last, IndexType())).results[0]
        if stride is not None:
            scaled = tb.emit(arith.MuliOp(last, stride)).results[0]
            last = tb.emit(arith.AddiOp(first, scaled)).results[0]
        if before is not None:
            ran = tb.emit(arith.CmpiOp(i64[0], i64[1], "slt")).results[0]
            last = tb.emit(arith.SelectOp(ran, last, before.ssa)).results[0]
        self.env[var] = Dim(last)

    def _range_bounds(self, node: ast.For, start, stop, step):
        """``(lb, ub, step, first, stride, nonneg)`` of the loop: the counter runs from lb
        to ub by step; the variable is the counter (stride None) or first + counter *
        stride; nonneg says the variable is never negative."""
        if isinstance(step, int) and not isinstance(step, bool) and step > 0:
            # the common case: the loop counter is the induction variable itself, which
            # lets LLVM see its range (and drop bounds checks it implies)
            lb, ub = self._index(start, node), self._index(stop, node)
            return lb, ub, self.tb.index_const(step), None, None, _nonneg(start)
        ub, first, stride = self._trip_count(node.iter, start, stop, step)
        # values in (stop, start] for a negative step, [start, stop) for a positive one
        nonneg = _nonneg(start) and (_nonneg(stop) or isinstance(step, int) and step < 0
                                      and stop == -1)
        return self.tb.index_const(0), ub, self.tb.index_const(1), first, stride, nonneg

    def _check_prange_signs(self, it: ast.Call, start, stop, step):
        """A prange whose values may be negative indexes from both ends: ``out[i]`` for
        ``i = -1`` and ``i = n - 1`` is one element. Assert the values share one sign."""
        tb = self.tb
        trip, first, stride = self._trip_count(it, start, stop, step)
        zero, one = tb.index_const(0), tb.index_const(1)
        last_k = tb.emit(arith.SubiOp(trip, one)).results[0]
        last = tb.emit(arith.AddiOp(first, tb.emit(arith.MuliOp(last_k, stride)).results[0])).results[0]
        signs = [tb.emit(arith.CmpiOp(v, zero, "slt")).results[0] for v in (first, last)]
        same = tb.emit(arith.CmpiOp(*signs, "eq")).results[0]
        empty = tb.emit(arith.CmpiOp(trip, zero, "eq")).results[0]
        ok = tb.emit(arith.OrIOp(same, empty)).results[0]
        tb.emit(cf.AssertOp(ok, "prange: the loop index takes negative and non-negative values, "
                                "so two iterations could write the same element"))

    def _is_prange(self, it: ast.expr) -> bool:
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name | ast.Attribute)):
            return False
        try:
            fn = self.expr(it.func)
        except ScriptError:
            return False
        return fn is P.prange or P.is_numba_prange(fn)

    def _prange_kinds(self, node: ast.For, plan, carried: list[str], kinds) -> ArrayAttr:
        """``ember.prange``: per carried value, "shared" (an array) or a reduction kind."""
        out = []
        for n, (t, _) in zip(carried, kinds):
            if n in plan.reductions and S.shape_of(t):
                self.fail(node, f"'{n}' is an array: a prange loop reduces scalars only",
                          "prange reduction", f"write {n}[...] element by element, or use range")
            if n not in plan.reductions and n not in plan.shared:
                self.fail(node, f"variable '{n}' carries a value between iterations of this "
                                "prange loop", "prange dependence", P._HINT_RANGE)
            kind = plan.reductions.get(n, "shared")
            if t.element_type == S.i1:
                kind = P.BOOL_KINDS.get(kind, kind)
            out.append(StringAttr(kind))
        return ArrayAttr(out)

    def _for_with_break(self, node: ast.For):
        """``for i in range(a, b, s)`` with ``break``: a ``while`` over an explicit counter."""
        it = node.iter
        args = list(it.args)
        if len(args) == 3:
            step = self.expr(args[2])
            if isinstance(step, bool) or not isinstance(step, int) or step == 0:
                self.fail(args[2], "a for loop with break needs a constant non-zero step",
                          "for loop", "use a while loop")
        else:
            step = 1
        start = args[0] if len(args) >= 2 else ast.copy_location(ast.Constant(0), it)
        stop = args[1] if len(args) >= 2 else args[0]
        counter, bound = self._fresh("i"), self._fresh("stop")
        name = lambda n: ast.Name(id=n, ctx=ast.Load())  # noqa: E731
        self._assign(ast.Name(id=counter, ctx=ast.Store()), self.expr(start))
        self._assign(ast.Name(id=bound, ctx=ast.Store()), self.expr(stop))
        cmp = ast.Lt() if step > 0 else ast.Gt()
        test = ast.Compare(name(counter), [cmp], [name(bound)])
        advance = ast.AugAssign(ast.Name(id=counter, ctx=ast.Store()), ast.Add(), ast.Constant(step))
        bind = ast.Assign(targets=[node.target], value=name(counter))
        body = [ast.copy_location(bind, node), ast.copy_location(advance, node), *node.body]
        loop = ast.fix_missing_locations(ast.copy_location(ast.While(test, body, []), node))
        return self.stmt_While(loop)

    def _yield(self, block: Block, values, kinds):
        self._in_block(block, lambda: self.tb.emit(
            scf.YieldOp(*(self._convert(v, k).ssa for v, k in zip(values, kinds)))))

    def _trip_count(self, node, start, stop, step):
        """(trip count, first value, stride) as index values; stride None means 0..n-1."""
        tb = self.tb
        if isinstance(step, int) and step == 0:
            self.fail(node, "range() arg 3 must not be zero", "range")
        a, b = self._index(start, node), self._index(stop, node)
        s = self._index(step, node)
        i64_ = [tb.emit(arith.IndexCastOp(v, S.i64)).results[0] for v in (a, b, s)]
        a64, b64, s64 = i64_
        one, zero = tb.scalar_const(1, S.i64), tb.scalar_const(0, S.i64)
        pos = tb.emit(arith.CmpiOp(s64, zero, "sgt")).results[0]
        span = tb.emit(arith.SelectOp(pos, tb.emit(arith.SubiOp(b64, a64)).results[0],
                                      tb.emit(arith.SubiOp(a64, b64)).results[0])).results[0]
        mag = tb.emit(arith.SelectOp(pos, s64, tb.emit(arith.SubiOp(zero, s64)).results[0])).results[0]
        safe = tb.emit(arith.MaxSIOp(mag, one)).results[0]
        n = tb.emit(arith.DivSIOp(tb.emit(arith.AddiOp(span, tb.emit(arith.SubiOp(safe, one)).results[0])).results[0],
                                  safe)).results[0]
        n = tb.emit(arith.MaxSIOp(n, zero)).results[0]
        return tb.emit(arith.IndexCastOp(n, IndexType())).results[0], a, s

    _exit_counter = 0

    def _fresh(self, stem: str) -> str:
        ControlFlowMixin._exit_counter += 1
        return f"__ember_{stem}{ControlFlowMixin._exit_counter}"

    def stmt_While(self, node: ast.While):
        if node.orelse:
            self.fail(node, "while/else is not supported", "while/else")
        exits = _own_exits(node.body)
        if exits:
            flag = self._fresh("break") if ast.Break in exits else None
            body = rewrite_exits(node.body, flag) or [ast.copy_location(ast.Pass(), node)]
            test = node.test
            if flag:
                self.env[flag] = False
                not_flag = ast.UnaryOp(ast.Not(), ast.Name(id=flag, ctx=ast.Load()))
                test = ast.BoolOp(ast.And(), [not_flag, node.test])
            new = ast.fix_missing_locations(ast.copy_location(ast.While(test, body, []), node))
            return self._while(new)
        return self._while(node)

    def _while(self, node: ast.While):
        carried = [n for n in self._with_aliases(assigned_names(node.body)) if self._live(n)]

        def make(types, kinds, stmts):
            before = Block(arg_types=list(types))
            saved = self.env
            self.env = dict(saved)
            for n, arg, (_, weak) in zip(carried, before.args, kinds):
                self.env[n] = self._entry_value(n, saved.get(n), arg, weak)
            self._bind_followers(saved)
            try:
                cond = self._in_block(before, lambda: self._condition(node.test))
            finally:
                self.env = saved
            self._in_block(before, lambda: self.tb.b.insert(scf.ConditionOp(cond, *before.args)))
            after = Block(arg_types=list(types))
            yielded = self._loop_body(after, carried, kinds, stmts)
            return _Payload((before, after, yielded)), yielded

        (before, after, yields), kinds, inits = self._loop(node, node.body, carried, make)
        self._yield(after, yields, kinds)
        init_vals = [self._convert(v, k).ssa for v, k in zip(inits, kinds)]
        op = self.tb.emit(scf.WhileOp(init_vals, [k[0] for k in kinds], Region(before), Region(after)))
        self._rebind_after([(n, TValue(r, weak), (v, y)) for n, r, (_, weak), v, y
                            in zip(carried, op.results, kinds, inits, yields)])
        self.rebind_followers()

    # -- element access ------------------------------------------------------------------

    def _indices(self, node: ast.expr) -> list:
        elts = node.elts if isinstance(node, ast.Tuple) else [node]
        out = []
        for e in elts:
            if isinstance(e, ast.Slice):
                step = 1 if e.step is None else self.expr(e.step)
                if isinstance(step, bool) or not isinstance(step, int):
                    self.fail(e.step, "slice steps must be integer constants", "slice")
                lower = None if e.lower is None else self.expr(e.lower)
                upper = None if e.upper is None else self.expr(e.upper)
                out.append(Slice(lower, upper, step))
            else:
                out.append(self.expr(e))
        return out

    def tensor_subscript(self, node: ast.Subscript, x: TValue):
        return build_slice(self.tb, x, self._indices(node.slice))

    def assign_subscript(self, target: ast.Subscript, value):
        if not isinstance(target.value, ast.Name):
            self.fail(target, "element assignment needs a variable: x[i] = v", "element assignment")
        name = target.value.id
        x = self._name(target.value)
        if not isinstance(x, TValue) or x.rank == 0:
            self.fail(target, f"'{name}' is not a tensor", "element assignment")
        if x.obj is None:
            of = ", ".join(f"'{o.name}'" for o, _ in x.views) or "another array"
            self.fail(target, f"'{name}' may share memory with {of} (a slice, .T, a reshape, or "
                              "a name bound to different arrays on different paths); ember "
                              "cannot write through it", "element assignment",
                      "write into the array itself (x[i, j] = v), or copy first: "
                      f"{name} = {name}.copy()")
        v = self._carry(value, target, name) if not isinstance(value, TValue) else value
        indices = self._indices(target.slice)
        if any(isinstance(i, Slice) for i in indices):
            self.fail(target, "assignment to a slice is not supported; write elements in a loop",
                      "slice assignment")
        try:
            new = self.tb.insert(x, indices, v)
        except BuildError as e:
            self.fail(target, str(e), "element assignment")
        self.write(x, new)


class ReusedLoopVariable:
    """After ``for k in ...`` whose body assigns ``k`` again (an inner loop over ``k``): in
    Python ``k`` holds the last value assigned in the last iteration; reading it is refused."""

    def __init__(self, name: str, lineno: int):
        self.name, self.lineno = name, lineno


def _nonneg(v) -> bool:
    """Whether a range bound is known not to be negative (a size, a constant >= 0)."""
    if isinstance(v, Dim):
        return v.nonneg
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


class _Payload(tuple):
    """What one attempt at building a loop made; dropped if the types must change."""

    def drop_all_references(self):
        for item in self:
            if isinstance(item, Block):
                item.drop_all_references()


def _ssa_like(t):
    """A stand-in SSA value of type ``t`` (for type joins only)."""
    from xdsl.ir import Block as _B
    return _B(arg_types=[t]).args[0]
