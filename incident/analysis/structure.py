"""What each operation does when it runs: the calls it makes, its own time, where it stops.

One pass over a window's traces (an even sample of them past `max_traces`) counts, per
operation (service + span name):

- its invocations and, per call it makes, how many invocations made that call at least once
  and how many calls they made in all: calls that stop, start or repeat show here. These are
  kept per caller context (the operation in another service whose call led in), so a new
  mix of callers is not read as a change in what the operation does;
- how many of its invocations had a call that failed (a change below failing calls is
  their echo);
- which call each invocation made last: an invocation that now ends right after a call it
  used to follow with others stopped there;
- its self time (duration minus its children's), per span, on a log scale;

and, per caller -> callee service edge, the gap of each call (the caller's client span minus
the callee's server span), on a log scale too: per-call times are heavy-tailed, and a shift
is a factor. A call is named by what it reaches: a client span that wraps a call into
another service stands for the operation it calls, so `GET` or `HTTP POST` wrappers do not
blur calls to different places into one.

Comparing two windows' shapes is `behaviour`'s part (the calls a service stopped, started or
repeats, where its invocations now stop, and its own operations slowing alike).

Every count is also kept per time chunk of the window (see `variation`), for the drift of the
baseline and for a step inside the incident window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import is_not, or_

from incident.analysis.columns import op_ids
from incident.analysis.trees import SpanTable
from incident.analysis.variation import CHUNKS, Moments
from incident.model import SpanKind

OpKey = tuple[str, str]
Pair = tuple[OpKey, OpKey]
# The operation in another service whose call led into this one (None for an entry point):
# an operation is compared with itself under the same caller, so a change in who calls it
# (the load mix) is not read as a change in what it does.
Context = OpKey | None
CtxOp = tuple[Context, OpKey]
CtxPair = tuple[Context, OpKey, OpKey]
# Kinds of a span that calls out (see `_outbound_ops`).
_OUT_KINDS = frozenset((SpanKind.CLIENT, SpanKind.PRODUCER))


def _zeros() -> list[int]:
    return [0] * CHUNKS


@dataclass
class Sample:
    """Per-item values with their count, in total and per time chunk."""

    n: int = 0
    m: Moments = field(default_factory=Moments)
    chunk_n: list[int] = field(default_factory=_zeros)

    def add(self, value: float, chunk: int) -> None:
        self.n += 1
        self.m.add(value, chunk)
        self.chunk_n[chunk] += 1


@dataclass
class OpStats:
    """One operation: invocations and self time (log of microseconds + 1), per chunk."""

    self_log: Sample = field(default_factory=Sample)
    # Invocations whose span has a child in another service (a client-side wrapper).
    calls_out: int = 0
    # Some of its spans are calls out (client or producer kind, or naming a peer): their
    # "self" time is the callee's or the network's, not the service's own work.
    outbound: bool = False


@dataclass
class PairStats:
    """Calls from one operation to another: invocations that made it at least once (total
    and per chunk), and calls in all."""

    has: int = 0
    calls: int = 0
    chunk_has: list[int] = field(default_factory=_zeros)


@dataclass
class Shape:
    """The structural aggregates of one window."""

    traces: int = 0
    chunk_traces: list[int] = field(default_factory=_zeros)
    ops: dict[OpKey, OpStats] = field(default_factory=dict)
    # Invocations of an operation under one caller context, per chunk; and how many of
    # them had a call that failed.
    ctx_ops: dict[CtxOp, list[int]] = field(default_factory=dict)
    ctx_failing: dict[CtxOp, int] = field(default_factory=dict)
    pairs: dict[CtxPair, PairStats] = field(default_factory=dict)
    # (operation, the call it made last) -> invocations; invocations without any call are
    # the operation's count minus the sum of its rows.
    last: dict[Pair, int] = field(default_factory=dict)
    # (caller service, callee service) -> gap per call: log of (ms + 1).
    gaps: dict[tuple[str, str], Sample] = field(default_factory=dict)

    def invocations(self, op: OpKey) -> int:
        s = self.ops.get(op)
        return s.self_log.n if s else 0

    def ctx_invocations(self, op: OpKey, ctx: Context) -> int:
        """Invocations of `op` under the caller context `ctx`."""
        row = self.ctx_ops.get((ctx, op))
        return sum(row) if row else 0

    def chunk_invocations(self, op: OpKey, ctx: Context) -> list[int]:
        row = self.ctx_ops.get((ctx, op))
        return list(row) if row else _zeros()


def _op_ids(table: SpanTable) -> tuple[list[int], list[OpKey]]:
    """An integer per distinct (service, span name), per span (`trees.build` fills it)."""
    if len(table.op) != table.n:  # a table not made by `build`
        table.op, table.op_keys = op_ids(table.spans, table.service)
    return table.op, table.op_keys


@dataclass
class _Tally:
    """The flat accumulators of one `collect_shape` pass, indexed by op id (and op id *
    CHUNKS + chunk), and the scratch columns over the whole table that each trace writes in
    its own spans' cells only."""

    op_out: list[int]
    op_sq: list[float]
    op_cn: list[int]
    op_cs: list[float]
    # Pairs keyed by ((caller context op id + 1) * n_ops + parent op) * n_ops + call op:
    # [has, calls, has per chunk...].
    pair: dict[int, list[int]]
    # Parent op * n_ops + the op of the call it made last -> invocations.
    last: dict[int, int]
    # (caller service, callee service) -> [calls, gap sum, gap squares, gap sum per chunk...,
    # calls per chunk...], the gap as the log of (ms + 1).
    gap: dict[tuple[str, str], list[float]]
    # (caller context op id + 1) * n_ops + op -> invocations per chunk; and how many of them
    # had a failing child (in total).
    ctx_inv: dict[int, list[int]]
    ctx_fail: dict[int, int]
    # Per span: its children's time; the op id of what a wrapper calls (-1 none); the op id
    # of the call that led into its service (-1 none, -2 not yet known).
    kid: list[int]
    callee: list[int]
    ctxc: list[int]

    @classmethod
    def empty(cls, n_spans: int, n_ops: int) -> _Tally:
        return cls(
            op_out=[0] * n_ops,
            op_sq=[0.0] * n_ops,
            op_cn=[0] * (n_ops * CHUNKS),
            op_cs=[0.0] * (n_ops * CHUNKS),
            pair={},
            last={},
            gap={},
            ctx_inv={},
            ctx_fail={},
            kid=[0] * n_spans,
            callee=[-1] * n_spans,
            ctxc=[-2] * n_spans,
        )


def collect_shape(
    table: SpanTable, traces: list[int], chunks: dict[int, int], max_traces: int
) -> Shape:
    """Aggregate the structure of `traces` (their time chunk in `chunks`), at most
    `max_traces` of them, evenly spread: two passes over each trace's spans, then the flat
    tallies turned into the keyed `Shape`."""
    shape = Shape()
    opid, names = _op_ids(table)
    tally = _Tally.empty(table.n, len(names))
    members = table.members
    step = max(1, len(traces) // max(1, max_traces))
    for t in traces[::step]:
        ch = chunks.get(t, 0)
        shape.traces += 1
        shape.chunk_traces[ch] += 1
        mem = members[t]
        _link_trace(table, opid, mem, ch, tally)
        _count_trace(table, opid, len(names), mem, ch, tally)
    _fill(shape, tally, names)
    outbound = _outbound_ops(table, opid, len(names))
    for o, name in enumerate(names):
        st = shape.ops.get(name)
        if st is not None and outbound[o]:
            st.outbound = True
    return shape


def _outbound_ops(table: SpanTable, opid: list[int], n_ops: int) -> bytearray:
    """Per op id, whether any of its spans is a call out; computed once per table."""
    cached = getattr(table, "_outbound", None)
    if cached is not None and len(cached) == n_ops:
        return cached  # type: ignore[no-any-return]
    out = bytearray(n_ops)
    peer = table.peer or [None] * table.n
    calling = map(or_, map(_OUT_KINDS.__contains__, table.kind), map(is_not, peer, repeat(None)))
    for o in set(compress(opid, calling)):
        out[o] = 1
    object.__setattr__(table, "_outbound", out)
    return out


def _link_trace(table: SpanTable, opid: list[int], mem: list[int], ch: int, tally: _Tally) -> None:
    """Pass 1 over one trace: children's time per parent, what each wrapper calls, each
    cross-service call's gap, and each span's caller context (the cross-service parent above
    its run in its own service)."""
    parent, svc, start, end = table.parent, table.service, table.start, table.end
    kid, callee, ctxc, gap = tally.kid, tally.callee, tally.ctxc, tally.gap
    log = math.log
    width = 3 + 2 * CHUNKS
    deferred: list[int] = []
    for i in mem:
        p = parent[i]
        if p < 0:
            ctxc[i] = -1
            continue
        d = end[i] - start[i]
        kid[p] += d
        if svc[p] != svc[i]:
            # The caller's operation: above its client span, when it has one.
            pp = parent[p]
            ctxc[i] = opid[pp] if pp >= 0 and svc[pp] == svc[p] else opid[p]
            if callee[p] < 0:
                callee[p] = opid[i]
            key = (svc[p], svc[i])
            g = gap.get(key)
            if g is None:
                g = gap[key] = [0.0] * width
            gap_ns = end[p] - start[p] - d
            lg = log(gap_ns / 1e6 + 1.0) if gap_ns > 0 else 0.0
            g[0] += 1
            g[1] += lg
            g[2] += lg * lg
            g[3 + ch] += lg
            g[3 + CHUNKS + ch] += 1
        else:
            cv = ctxc[p]
            if cv == -2:
                deferred.append(i)  # its parent comes later in the input
            else:
                ctxc[i] = cv
    if deferred:
        _resolve_contexts(table, opid, deferred, ctxc)


def _resolve_contexts(
    table: SpanTable, opid: list[int], deferred: list[int], ctxc: list[int]
) -> None:
    """The caller context of spans that came before their parent in the input: walk up
    their run in their own service to the call that led into it."""
    parent, svc = table.parent, table.service
    for i in deferred:
        chain: list[int] = []
        j = i
        while True:
            cv = ctxc[j]
            if cv != -2:
                break
            p = parent[j]
            if p < 0:
                cv = ctxc[j] = -1
                break
            if svc[p] != svc[j]:
                pp = parent[p]
                cv = ctxc[j] = opid[pp] if pp >= 0 and svc[pp] == svc[p] else opid[p]
                break
            chain.append(j)
            j = p
        for x in chain:
            ctxc[x] = cv


def _count_trace(
    table: SpanTable, opid: list[int], n_ops: int, mem: list[int], ch: int, tally: _Tally
) -> None:
    """Pass 2 over one trace (after `_link_trace`): self time, invocations per caller
    context, calls per operation, failing calls, and the call each invocation made last."""
    parent, svc, start, end, flag = table.parent, table.service, table.start, table.end, table.flag
    kid, callee, ctxc = tally.kid, tally.callee, tally.ctxc
    op_out, op_sq, op_cn, op_cs = tally.op_out, tally.op_sq, tally.op_cn, tally.op_cs
    pair, last, ctx_inv, ctx_fail = tally.pair, tally.last, tally.ctx_inv, tally.ctx_fail
    log = math.log
    last_of: dict[int, tuple[int, int]] = {}
    seen: set[int] = set()
    failed_parent: set[int] = set()
    for i in mem:
        o = opid[i]
        own = end[i] - start[i] - kid[i]
        v = log(own / 1000.0 + 1.0) if own > 0 else 0.0
        op_sq[o] += v * v
        k = o * CHUNKS + ch
        op_cn[k] += 1
        op_cs[k] += v
        ck = (ctxc[i] + 1) * n_ops + o
        inv = ctx_inv.get(ck)
        if inv is None:
            inv = ctx_inv[ck] = [0] * CHUNKS
        inv[ch] += 1
        p = parent[i]
        if p < 0:
            continue
        if svc[p] == svc[i]:
            c = callee[i]
            if c < 0:
                c = o
            else:
                op_out[o] += 1
        elif parent[p] >= 0 and svc[parent[p]] == svc[p]:
            # The callee side of a wrapper: counted as the wrapper's own call, one up.
            continue
        else:
            c = o
        if flag[i] and p not in failed_parent:
            failed_parent.add(p)
            fk = (ctxc[p] + 1) * n_ops + opid[p]
            ctx_fail[fk] = ctx_fail.get(fk, 0) + 1
        pk = ((ctxc[p] + 1) * n_ops + opid[p]) * n_ops + c
        row = pair.get(pk)
        if row is None:
            row = pair[pk] = [0] * (2 + CHUNKS)
        row[1] += 1
        sk = p * n_ops + c
        if sk not in seen:
            seen.add(sk)
            row[0] += 1
            row[2 + ch] += 1
        prev = last_of.get(p)
        if prev is None or start[i] >= prev[0]:
            last_of[p] = (start[i], c)
    for p, (_, c) in last_of.items():
        lk = opid[p] * n_ops + c
        last[lk] = last.get(lk, 0) + 1


def _fill(shape: Shape, tally: _Tally, names: list[OpKey]) -> None:
    """Turn the flat tallies, keyed by op ids, into the shape's keyed aggregates."""
    n_ops = len(names)
    for edge, g in tally.gap.items():
        shape.gaps[edge] = Sample(
            int(g[0]),
            Moments(g[1], g[2], g[3 : 3 + CHUNKS]),
            [int(x) for x in g[3 + CHUNKS :]],
        )
    for o in range(n_ops):
        base = o * CHUNKS
        counts = tally.op_cn[base : base + CHUNKS]
        n = sum(counts)
        if not n:
            continue
        sums = tally.op_cs[base : base + CHUNKS]
        sample = Sample(n, Moments(sum(sums), tally.op_sq[o], sums), counts)
        shape.ops[names[o]] = OpStats(sample, tally.op_out[o])
    for ck, inv in tally.ctx_inv.items():
        cx, o = divmod(ck, n_ops)
        shape.ctx_ops[(names[cx - 1] if cx else None, names[o])] = inv
    for fk, count in tally.ctx_fail.items():
        cx, o = divmod(fk, n_ops)
        shape.ctx_failing[(names[cx - 1] if cx else None, names[o])] = count
    for pk, row in tally.pair.items():
        rest, c = divmod(pk, n_ops)
        cx, a = divmod(rest, n_ops)
        shape.pairs[(names[cx - 1] if cx else None, names[a], names[c])] = PairStats(
            row[0], row[1], row[2:]
        )
    for lk, count in tally.last.items():
        a, c = divmod(lk, n_ops)
        shape.last[(names[a], names[c])] = count
