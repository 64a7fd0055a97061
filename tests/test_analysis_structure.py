"""Structural signals: what each operation calls, per invocation and caller, against the
baseline. A service that stops making a call while its callers did not change is a
code-level suspect; a change that only follows a new mix of callers is not; a caller that
stops right after a leaf's answer points at the leaf; a service whose own operations all slow
down alike is starved; a delay on an edge is placed on the side its neighbours point to, or
on both ends when nothing separates them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from incident.analysis import diagnose
from incident.analysis.behaviour import behaviour, uniform_slowdown
from incident.analysis.candidate import Candidate
from incident.analysis.config import AnalysisConfig
from incident.analysis.rank import rank
from incident.analysis.signals import collect
from incident.analysis.structure import Shape, collect_shape
from incident.analysis.trees import build
from incident.analysis.variation import chunk_of
from incident.model import Bundle, Span, SpanKind

MS = 1_000_000


@dataclass
class Node:
    """One server-side operation: its own time and the calls it makes, in order. A call
    into another service goes through a client span of `gap_ms` around the callee."""

    service: str
    op: str
    own_ms: float = 1.0
    calls: list[Node] = field(default_factory=list)
    gap_ms: float = 0.5


class Builder:
    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.spans: list[Span] = []
        self.n = 0

    def _id(self) -> str:
        self.n += 1
        return f"{self.n:016x}"

    def _jit(self, ms: float) -> int:
        return int(ms * (0.8 + 0.4 * self.rng.random()) * MS)

    def _node(self, tid: str, node: Node, parent: str | None, t: int) -> int:
        """Emit `node` starting at t; return its end."""
        sid = self._id()
        kind = SpanKind.SERVER
        spans_before = len(self.spans)
        self.spans.append(Span(tid, sid, parent, node.service, node.op, kind, t, t))
        cur = t + self._jit(node.own_ms / 2)
        for child in node.calls:
            if child.service == node.service:
                cur = self._node(tid, child, sid, cur)
                continue
            cid = self._id()
            gap = self._jit(child.gap_ms)
            c_start = cur
            c_end = self._node(tid, child, cid, c_start + gap // 2) + gap - gap // 2
            self.spans.append(
                Span(
                    tid, cid, sid, node.service, f"call {child.op}", SpanKind.CLIENT, c_start, c_end
                )
            )
            cur = c_end
        end = cur + self._jit(node.own_ms / 2)
        s = self.spans[spans_before]
        self.spans[spans_before] = Span(
            s.trace_id, s.span_id, s.parent_id, s.service, s.name, s.kind, s.start_ns, end
        )
        return end

    def request(self, k: int, root: Node, spacing_ms: float = 100.0) -> None:
        tid = f"{k:032x}"
        self._node(tid, root, None, int(k * spacing_ms * MS))


def _ranked(inc: list[Span], base: list[Span]) -> list[Candidate]:
    config = AnalysisConfig()
    ti, tb = build(inc), build(base)
    wi = collect(ti, list(range(len(ti.members))), config.max_path_traces)
    wb = collect(tb, list(range(len(tb.members))), config.max_path_traces)
    return rank(wi, wb, config)[0]


def _shapes(inc: list[Span], base: list[Span]) -> tuple[Shape, Shape]:
    out: list[Shape] = []
    for spans in (inc, base):
        t = build(spans)
        traces = list(range(len(t.members)))
        chunks = dict(zip(traces, chunk_of([t.start[t.roots[k]] for k in traces]), strict=True))
        out.append(collect_shape(t, traces, chunks, 10_000))
    return out[0], out[1]


def _shop(k: int, *, skip_stock: bool = False, leaf_ms: float = 2.0) -> Node:
    """web GET / -> cart GetCart (-> stock Check, then price Quote)."""
    cart_calls = [] if skip_stock else [Node("stock", "Check", 1.0)]
    cart_calls.append(Node("price", "Quote", leaf_ms))
    return Node("web", "GET /", 1.0, [Node("cart", "GetCart", 2.0, cart_calls)])


def test_wrapper_client_spans_stand_for_the_operation_they_call() -> None:
    b = Builder()
    for k in range(40):
        b.request(k, _shop(k))
    t = build(b.spans)
    traces = list(range(len(t.members)))
    shape = collect_shape(t, traces, dict.fromkeys(traces, 0), 10_000)
    calls = {(k[1], k[2]) for k in shape.pairs}
    assert (("web", "GET /"), ("cart", "GetCart")) in calls
    assert (("cart", "GetCart"), ("stock", "Check")) in calls
    # No pair names the client span itself.
    assert not any(k[2][1].startswith("call ") for k in shape.pairs)
    assert shape.gaps[("web", "cart")].n == 40
    # cart is reached from web's GET /: that is its caller context.
    assert (("web", "GET /"), ("cart", "GetCart")) in shape.ctx_ops


def test_a_service_that_stops_calling_is_a_code_level_suspect() -> None:
    """cart stops calling stock in 80% of its invocations while web calls cart as before:
    cart's own behaviour changed, with a one-line fact saying what and how often."""
    base, inc = Builder(1), Builder(2)
    for k in range(300):
        base.request(k, _shop(k))
        # The incident export starts before the change, as exports do.
        inc.request(k, _shop(k, skip_stock=k >= 100 and k % 5 != 0))
    si, sb = _shapes(inc.spans, base.spans)
    found = behaviour(si, sb, separate=True)
    assert "cart" in found and "web" not in found
    change = found["cart"].changes[0]
    assert change.how == "stopped" and change.call == ("stock", "Check")
    # Measured where it changed: the trailing part of the window.
    assert change.before == 1.0 and 0.15 <= change.after <= 0.3
    ranked = _ranked(inc.spans, base.spans)
    top = ranked[0]
    assert top.component == "cart" and top.kind == "behaviour"
    assert top.behaviour_claim_holds
    # The shares read as what they are: how many invocations still make the call, and
    # how many did before.
    assert top.facts[0].startswith(
        f"stopped calling stock.Check: {change.after:.0%} of its cart.GetCart invocations "
        "make that call, 100% did before ("
    )


def test_a_new_mix_of_callers_is_not_a_change_of_behaviour() -> None:
    """report calls cart with a light order (no stock check), web with a full one. Only the
    share of report's requests grows: each caller's cart calls are unchanged."""
    base, inc = Builder(3), Builder(4)

    def light(k: int) -> Node:
        return Node("report", "GET /report", 1.0, [Node("cart", "GetCart", 2.0, [])])

    for k in range(300):
        base.request(k, light(k) if k % 4 == 0 else _shop(k))
        inc.request(k, light(k) if k % 4 != 0 else _shop(k))
    si, sb = _shapes(inc.spans, base.spans)
    assert "cart" not in behaviour(si, sb, separate=False)


def test_a_change_below_a_failing_call_is_the_failure_s_echo() -> None:
    base, inc = Builder(5), Builder(6)
    for k in range(200):
        base.request(k, _shop(k))
        inc.request(k, _shop(k, skip_stock=k % 2 == 0))
    si, sb = _shapes(inc.spans, base.spans)
    assert "cart" in behaviour(si, sb, separate=False)
    assert "cart" not in behaviour(si, sb, separate=False, explained=frozenset({"stock"}))


def test_a_caller_that_stops_after_a_leaf_points_at_the_leaf() -> None:
    """cart calls price, then stock; now it stops right after price in most invocations,
    and price's own spans ended early: price is the likelier origin, ranked with cart."""
    base, inc = Builder(7), Builder(8)

    def order(k: int, *, broken: bool) -> Node:
        calls = [Node("price", "Quote", 0.2 if broken else 3.0)]
        if not broken:
            calls.append(Node("stock", "Check", 1.0))
        return Node("web", "GET /", 1.0, [Node("cart", "GetCart", 2.0, calls)])

    for k in range(300):
        base.request(k, order(k, broken=False))
        inc.request(k, order(k, broken=k >= 100 and k % 5 != 0))
    names = [c.component for c in _ranked(inc.spans, base.spans)[:2]]
    assert set(names) == {"cart", "price"}
    ranked = _ranked(inc.spans, base.spans)
    price = next(c for c in ranked if c.component == "price")
    assert price.stopped_caller == "cart"
    assert any("cart now often stops right after calling it" in f for f in price.facts)


def test_every_operation_of_one_service_slowing_reads_as_contention() -> None:
    """cart's own work doubles in both of its operations, short and long: saturation."""
    base, inc = Builder(9), Builder(10)

    def two_ops(k: int, factor: float) -> Node:
        inner = Node("cart", "LoadCart", 0.3 * factor, [Node("price", "Quote", 1.0)])
        return Node("web", "GET /", 1.0, [Node("cart", "GetCart", 4.0 * factor, [inner])])

    for k in range(300):
        base.request(k, two_ops(k, 1.0))
        inc.request(k, two_ops(k, 2.0))
    si, sb = _shapes(inc.spans, base.spans)
    ratio, slowed, compared, _ = uniform_slowdown(si, sb, "cart")
    assert compared == 2 and slowed == 2 and ratio > 1.5
    assert uniform_slowdown(si, sb, "price")[1] == 0
    top = _ranked(inc.spans, base.spans)[0]
    assert top.component == "cart" and top.kind == "saturation"
    assert any("own operations slowed alike" in f for f in top.facts)


def test_a_noisy_hop_does_not_outrank_a_clear_shift() -> None:
    """search's time swings widely in both windows and its mean rose by chance; price rose
    less but steadily: price is the cause."""
    base, inc = Builder(11), Builder(12)
    rng = random.Random(13)

    def req(k: int, price_ms: float) -> Node:
        noisy = Node("search", "Find", rng.choice([1.0, 1.0, 1.0, 60.0]))
        return Node("web", "GET /", 1.0, [noisy, Node("price", "Quote", price_ms)])

    for k in range(300):
        base.request(k, req(k, 5.0))
    rng = random.Random(14)
    for k in range(300):
        inc.request(k, req(k, 9.0))
    ranked = _ranked(inc.spans, base.spans)
    assert ranked[0].component == "price"
    search = next((c for c in ranked if c.component == "search"), None)
    assert search is None or not search.latency_claim_holds


def test_a_slow_caller_slows_all_its_calls_and_is_blamed_itself() -> None:
    """web's calls to cart, stock and price all gained 20 ms of gap; their other caller
    (batch) saw nothing: the gap is on web's side."""
    base, inc = Builder(15), Builder(16)

    def req(k: int, gap: float) -> Node:
        if k % 3 == 0:
            return Node("batch", "Run", 1.0, [Node("cart", "GetCart", 1.0), Node("price", "Quote")])
        calls = [Node("cart", "GetCart", 1.0, gap_ms=gap), Node("stock", "Check", gap_ms=gap)]
        calls.append(Node("price", "Quote", gap_ms=gap))
        return Node("web", "GET /", 1.0, calls)

    for k in range(300):
        base.request(k, req(k, 0.5))
        inc.request(k, req(k, 20.0))
    top = _ranked(inc.spans, base.spans)[0]
    assert top.component == "web" and top.kind == "network"
    assert top.lat_net_own > 0 and top.net_callee is not None


def test_an_edge_nothing_separates_ranks_both_ends_with_a_reason() -> None:
    """One caller, one callee: the added gap may be either's; both are ranked, next to each
    other, each with a fact saying why."""
    base, inc = Builder(17), Builder(18)
    for k in range(300):
        base.request(k, Node("web", "GET /", 1.0, [Node("mail", "Send", 1.0, gap_ms=0.5)]))
        inc.request(k, Node("web", "GET /", 1.0, [Node("mail", "Send", 1.0, gap_ms=30.0)]))
    ranked = _ranked(inc.spans, base.spans)
    assert [c.component for c in ranked[:2]] == ["mail", "web"]
    assert ranked[1].score >= 0.9 * ranked[0].score
    for c in ranked[:2]:
        assert any("may be either end's" in f for f in c.facts), c.facts


def test_a_changed_call_pattern_alone_heads_an_incident_only_when_clear() -> None:
    """A call pattern changed with nothing failing or slower: clear (cart skips stock in
    four invocations of five) it is the incident; weaker (one in three) it is named first
    but the verdict says the evidence cannot confirm a fault."""
    for skip_every, status in ((None, "incident"), (3, "inconclusive")):
        base, inc = Builder(1), Builder(2)
        for k in range(300):
            base.request(k, _shop(k))
            if skip_every is None:
                skip = k >= 100 and k % 5 != 0
            else:
                skip = k >= 100 and k % skip_every == 0
            inc.request(k, _shop(k, skip_stock=skip))
        report = diagnose(Bundle(spans=inc.spans), Bundle(spans=base.spans))
        assert report.verdict.status == status, report.verdict
        assert report.root_causes[0].service == "cart"
        if status == "inconclusive":
            assert "cannot confirm a fault" in report.verdict.reason
            assert report.verdict.alternatives[0].startswith("cart: stopped calling")


def _starved_behind_a_delay(k: int, factor: float, gap: float) -> Node:
    """web and batch both call cart across `gap` ms; cart's two operations take `factor`
    times their usual own time."""
    inner = Node("cart", "LoadCart", 0.3 * factor, [Node("price", "Quote", 1.0)])
    cart = Node("cart", "GetCart", 1.0 * factor, [inner], gap_ms=gap)
    caller = "batch" if k % 3 == 0 else "web"
    return Node(caller, "Run" if caller == "batch" else "GET /", 1.0, [cart])


def test_a_starved_service_whose_time_sits_on_the_way_in_names_the_network_too() -> None:
    """cart's own operations all slowed alike, but nearly all the time it added is on the
    way into it, from both callers: a starved process late to take requests and a delayed
    network into it look the same, so the cause says both and the actions check both."""
    base, inc = Builder(19), Builder(20)
    for k in range(300):
        base.request(k, _starved_behind_a_delay(k, 1.0, 0.5))
        inc.request(k, _starved_behind_a_delay(k, 2.0, 40.0))
    top = _ranked(inc.spans, base.spans)[0]
    assert top.component == "cart" and top.kind == "saturation" and top.alike == "network"
    report = diagnose(Bundle(spans=inc.spans), Bundle(spans=base.spans))
    cause = report.root_causes[0]
    assert cause.service == "cart" and cause.kind == "saturation"
    assert "a delayed network there looks the same" in cause.summary
    actions = [a.action for a in report.actions]
    assert any(a.startswith("Check CPU throttling") and "cart" in a for a in actions)
    assert any(a.startswith("Check the network into and out of cart") for a in actions)
    # Its example spans are calls to it, showing the time spent on the way in.
    texts = [e.text for e in report.evidence if e.id in cause.evidence and e.kind == "span"]
    assert texts and all(" -> cart: " in t and "in cart's own span" in t for t in texts)


def test_a_starved_service_whose_own_work_holds_the_time_names_no_network() -> None:
    """The same slowdown without the delay on the way in: contention alone is named."""
    base, inc = Builder(19), Builder(20)
    for k in range(300):
        base.request(k, _starved_behind_a_delay(k, 1.0, 0.5))
        inc.request(k, _starved_behind_a_delay(k, 3.0, 0.5))
    top = _ranked(inc.spans, base.spans)[0]
    assert top.component == "cart" and top.kind == "saturation" and not top.alike
    report = diagnose(Bundle(spans=inc.spans), Bundle(spans=base.spans))
    assert "network" not in report.root_causes[0].summary
    assert not any("network" in a.action for a in report.actions)
