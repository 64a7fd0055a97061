"""Synthetic incidents: traffic over a random topology with one injected fault, a background
error source that fails at the same rate throughout, optional clock skew, logs and alerts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from incident.model import (
    Alert,
    Bundle,
    LogRecord,
    Span,
    SpanEvent,
    SpanKind,
    StatusCode,
)
from synth.topology import Call, EntryOp, Node, Topology, build_topology, walk

SCENARIOS = (
    "slow-db",
    "error-burst",
    "timeout-cascade",
    "retry-storm",
    "pool-wait",
    "bad-pod",
    "bad-deploy",
    "fallback",
    "client-4xx",
    "uninstrumented-dep",
    "slow-external",
    "cache-outage",
    "network-delay",
)

_MS = 1_000_000
_UNSET, _ERROR = int(StatusCode.UNSET), int(StatusCode.ERROR)
_SERVER_KIND, _CLIENT_KIND = int(SpanKind.SERVER), int(SpanKind.CLIENT)
_BASE_TIME_NS = 1_773_478_800_000_000_000  # 2026-03-14T09:00:00Z


@dataclass(frozen=True)
class Truth:
    """What was injected: the answer a diagnosis should give."""

    service: str
    kind: str
    category: str
    origin: str
    instance: str | None = None
    version: str | None = None
    onset_ns: int = 0
    background: str = ""  # the service or peer failing at a steady rate (never the cause)


@dataclass
class Scenario:
    name: str
    seed: int
    spans: list[Span]
    logs: list[LogRecord]
    alerts: list[Alert]
    baseline: list[Span]
    baseline_logs: list[LogRecord]
    truth: Truth
    topology: Topology
    skewed_instance: str | None = None
    notes: list[str] = field(default_factory=list)

    def bundle(self) -> Bundle:
        """The incident export as a reader would hand it over."""
        b = Bundle(spans=list(self.spans), logs=list(self.logs), alerts=list(self.alerts))
        b.quality.spans = len(self.spans)
        return b

    def baseline_bundle(self) -> Bundle:
        b = Bundle(spans=list(self.baseline), logs=list(self.baseline_logs))
        b.quality.spans = len(self.baseline)
        return b


@dataclass
class _Fault:
    scenario: str
    target: str
    active: bool = False
    magnitude_ms: float = 0.0
    rate: float = 0.0
    instance: str | None = None
    version: str | None = None
    new_instances: list[str] = field(default_factory=list)
    message: tuple[str, str] = ("", "")  # exception type, message
    code: int = 500
    transient: bool = True


@dataclass
class _Failure:
    http: int
    grpc: int
    etype: str
    message: str
    user: bool = False


class _Gen:
    """Holds the per-run state so the recursive span builder stays cheap."""

    def __init__(
        self,
        rng: random.Random,
        topo: Topology,
        fault: _Fault,
        background: str,
        skew: tuple[str, int] | None,
        with_logs: bool,
    ) -> None:
        self.rng = rng
        self.topo = topo
        self.fault = fault
        self.background = background
        self.skew_instance, self.skew_ns = skew if skew else ("", 0)
        self.with_logs = with_logs
        self.spans: list[Span] = []
        self.logs: list[LogRecord] = []
        self.resources: dict[str, dict[str, Any]] = {}
        self.attr_cache: dict[tuple[int, int, int], dict[str, Any]] = {}
        self.getrandbits = rng.getrandbits
        self.random = rng.random
        # A table of log-normal-ish factors: one C call per draw instead of arithmetic.
        draws = [rng.random() for _ in range(4096)]
        self.jitters = [0.6 + r * 0.8 + (r * r * r * 1.5 if r > 0.9 else 0.0) for r in draws]

    def resource(self, service: str, instance: str, version: str) -> dict[str, Any]:
        res = self.resources.get(instance)
        if res is None:
            res = {
                "service.name": service,
                "k8s.pod.name": instance,
                "service.version": version,
                "k8s.namespace.name": "prod",
            }
            self.resources[instance] = res
        return res

    # -- attributes -------------------------------------------------------------------
    def server_attrs(self, node: Node, op: str, code: int) -> dict[str, Any]:
        key = (id(node), hash(op), code)
        attrs = self.attr_cache.get(key)
        if attrs is None:
            if node.grpc:
                svc, _, method = op.partition("/")
                attrs = {
                    "rpc.system": "grpc",
                    "rpc.service": svc,
                    "rpc.method": method,
                    "rpc.grpc.status_code": code,
                }
            elif node.new_semconv:
                attrs = {
                    "http.request.method": op.split(" ")[0],
                    "http.route": op.split(" ")[-1],
                    "http.response.status_code": code,
                }
            else:
                attrs = {
                    "http.method": op.split(" ")[0],
                    "http.route": op.split(" ")[-1],
                    "http.status_code": code,
                }
            self.attr_cache[key] = attrs
        return attrs

    def client_attrs(self, caller: Node, call: Call, code: int) -> dict[str, Any]:
        key = (id(call), id(caller), code)
        attrs = self.attr_cache.get(key)
        if attrs is not None:
            return attrs
        new = caller.new_semconv
        if call.kind in ("db", "cache"):
            attrs = {
                ("db.system.name" if new else "db.system"): call.system,
                ("db.namespace" if new else "db.name"): call.target.split("-")[0],
                ("server.address" if new else "net.peer.name"): call.target,
                ("db.query.text" if new else "db.statement"): call.operation + " WHERE id = ?",
            }
            if code:
                attrs["error.type"] = "ConnectionError"
        elif call.kind == "external":
            attrs = {
                ("http.request.method" if new else "http.method"): call.operation,
                ("server.address" if new else "net.peer.name"): call.target,
                ("url.full" if new else "http.url"): f"https://{call.target}/v1/charge",
                ("http.response.status_code" if new else "http.status_code"): code or 200,
            }
            if caller.grpc:
                attrs["peer.service"] = call.target
        else:
            callee = self.topo.nodes[call.target]
            if callee.grpc:
                svc, _, method = call.operation.partition("/")
                attrs = {
                    "rpc.system": "grpc",
                    "rpc.service": svc,
                    "rpc.method": method,
                    "rpc.grpc.status_code": code,
                    "peer.service": call.target,
                }
            else:
                attrs = {
                    ("http.request.method" if new else "http.method"): call.operation.split(" ")[0],
                    ("server.address" if new else "net.peer.name"): call.target,
                    ("http.response.status_code" if new else "http.status_code"): code or 200,
                }
        self.attr_cache[key] = attrs
        return attrs

    def log(
        self,
        t: int,
        level: str,
        service: str,
        instance: str,
        message: str,
        trace_id: str | None = None,
        span_id: str | None = None,
        **fields: Any,
    ) -> None:
        if self.with_logs:
            self.logs.append(
                LogRecord(
                    time_ns=t,
                    level=level,
                    message=message,
                    service=service,
                    trace_id=trace_id,
                    span_id=span_id,
                    instance=instance,
                    fields=fields,
                )
            )

    # -- failures ---------------------------------------------------------------------
    def own_failure(self, call: Call, instance: str, incident: bool) -> _Failure | None:
        f = self.fault
        if call.target == self.background and self.random() < 0.04:
            return _Failure(500, 13, "IntegrityError", "duplicate key value violates constraint")
        if not (incident and f.active and call.target == f.target):
            return None
        sc = f.scenario
        if sc in ("error-burst", "retry-storm", "fallback", "uninstrumented-dep") and (
            self.random() < f.rate
        ):
            return _Failure(f.code, 14 if f.transient else 13, f.message[0], f.message[1])
        if sc == "bad-pod" and instance == f.instance and self.random() < f.rate:
            return _Failure(503, 14, f.message[0], f.message[1])
        if sc == "bad-deploy" and instance in f.new_instances and self.random() < f.rate:
            return _Failure(500, 2, f.message[0], f.message[1])
        if sc == "client-4xx" and self.random() < f.rate:
            return _Failure(
                400, 3, "ValidationError", "invalid field 'quantity': must be > 0", user=True
            )
        if sc == "cache-outage":
            return _Failure(
                0, 14, "ConnectionRefusedError", f"connect ECONNREFUSED {f.target}:6379"
            )
        return None

    # -- span builders ----------------------------------------------------------------
    def server(
        self,
        call: Call,
        start: int,
        trace_id: str,
        parent: str | None,
        incident: bool,
        user: str | None = None,
        entry: EntryOp | None = None,
    ) -> tuple[int, _Failure | None]:
        """Emit a server span for a service call and everything under it."""
        jit, grb = self.jitters, self.getrandbits
        rng_random = self.random
        f = self.fault
        node = self.topo.nodes[call.target]
        instances = node.instances
        version = node.version
        if (
            incident
            and f.active
            and f.scenario == "bad-deploy"
            and call.target == f.target
            and rng_random() < 0.5
        ):
            instances, version = f.new_instances, f.version or version
        instance = instances[int(rng_random() * len(instances))]
        resource = self.resource(node.name, instance, version)
        skew = self.skew_ns if instance == self.skew_instance else 0
        span_id = f"{grb(64):016x}"
        op = entry.operation if entry else call.operation
        failure = self.own_failure(call, instance, incident)
        t = start + int(call.base_ms * 0.4 * jit[grb(12)] * _MS)
        if incident and f.active and call.target == f.target:
            if f.scenario == "pool-wait" and any(c.kind == "db" for c in call.children):
                t += int(f.magnitude_ms * jit[grb(12)] * _MS)  # waiting for a connection
            elif f.scenario == "bad-pod" and instance == f.instance:
                t += int(20 * _MS)
        if failure is not None and failure.user:
            pass  # validation fails before any downstream call
        elif failure is None:
            for child in call.children:
                t, child_failure = self.client(
                    node, child, t, trace_id, span_id, instance, incident, skew
                )
                if child_failure is not None and failure is None:
                    failure = child_failure
                    break
        end = t + int(call.base_ms * 0.6 * jit[grb(12)] * _MS)
        if incident and f.active and call.target == f.target and f.scenario == "timeout-cascade":
            end += int(f.magnitude_ms * jit[grb(12)] * _MS)  # slow work after its calls
        if failure is None:
            code = 0 if node.grpc else 200
            status = _UNSET
            message = ""
            events: tuple[SpanEvent, ...] = ()
        else:
            code = failure.grpc if node.grpc else failure.http
            # A server span answering 4xx is the client's mistake: status stays unset.
            status = _UNSET if failure.user and not node.grpc else _ERROR
            message = failure.message
            events = (
                SpanEvent(
                    end,
                    "exception",
                    {"exception.type": failure.etype, "exception.message": failure.message},
                ),
            )
            self.log(
                end,
                "WARN" if failure.user else "ERROR",
                node.name,
                instance,
                f"{failure.etype}: {failure.message} (request {grb(32):08x})",
                trace_id,
                span_id,
            )
        attrs = self.server_attrs(node, op, code)
        if user is not None:
            attrs = dict(attrs)
            attrs["enduser.id"] = user
        self.spans.append(
            Span(
                trace_id,
                span_id,
                parent,
                node.name,
                op,
                _SERVER_KIND,
                start + skew,
                end + skew,
                status,
                message,
                attrs,
                events,
                (),
                resource,
            )
        )
        return end, failure

    def client(
        self,
        caller: Node,
        call: Call,
        start: int,
        trace_id: str,
        parent: str,
        instance: str,
        incident: bool,
        skew: int,
    ) -> tuple[int, _Failure | None]:
        """Emit the caller's client span(s) for one call, retrying and timing out as told."""
        jit, grb = self.jitters, self.getrandbits
        f = self.fault
        hit = incident and f.active and call.target == f.target
        attempts = 3 if (hit and f.scenario == "retry-storm") else 1
        t = start
        failure: _Failure | None = None
        for attempt in range(attempts):
            if attempt:
                t += int(40 * (2**attempt) * jit[grb(12)] * _MS)  # backoff
            t, failure = self.one_client(
                caller, call, t, trace_id, parent, instance, incident, skew
            )
            if failure is None:
                break
        if failure is not None and call.optional:
            self.log(
                t,
                "WARN",
                caller.name,
                instance,
                f"{call.target} unavailable, serving fallback",
                trace_id,
                parent,
            )
            if call.kind == "cache":
                # Fallback to the database: more queries land on it.
                for db in call.fallback:
                    for _ in range(2):
                        t, _f = self.one_client(
                            caller, db, t, trace_id, parent, instance, incident, skew
                        )
            return t, None
        return t, failure

    def one_client(
        self,
        caller: Node,
        call: Call,
        start: int,
        trace_id: str,
        parent: str,
        instance: str,
        incident: bool,
        skew: int,
    ) -> tuple[int, _Failure | None]:
        jit, grb = self.jitters, self.getrandbits
        f = self.fault
        hit = incident and f.active and call.target == f.target
        span_id = f"{grb(64):016x}"
        net = int(call.net_ms * jit[grb(12)] * _MS)
        failure: _Failure | None = None
        timeout_ms = 0.0
        if call.kind == "service":
            extra = 0
            if hit and f.scenario == "network-delay":
                extra = int(f.magnitude_ms * jit[grb(12)] * _MS)
            server_end, failure = self.server(call, start + net, trace_id, span_id, incident)
            end = server_end + net + extra
            if (
                incident
                and f.active
                and f.scenario == "timeout-cascade"
                and call.target == (f.target)
            ):
                timeout_ms = f.rate
        else:
            work = call.base_ms * jit[grb(12)]
            if incident and f.active and call.kind == "db" and f.scenario == "cache-outage":
                work += f.magnitude_ms * 0.25 * jit[grb(12)]
            if hit and f.scenario in ("slow-db", "slow-external"):
                work += f.magnitude_ms * jit[grb(12)]
            failure = self.own_failure(call, instance, incident)
            if failure is not None and call.kind == "cache":
                work = 0.3
            end = start + 2 * net + int(work * _MS)
        if timeout_ms and end - start > timeout_ms * _MS:
            end = start + int(timeout_ms * _MS)
            failure = _Failure(
                504,
                4,
                "DeadlineExceeded",
                f"context deadline exceeded after {int(timeout_ms)}ms calling {call.target}",
            )
        code = 0
        if failure is not None:
            code = (
                failure.grpc
                if (call.kind == "service" and self.topo.nodes[call.target].grpc)
                else failure.http
            )
        attrs = self.client_attrs(caller, call, code)
        status = _ERROR if failure is not None else _UNSET
        events: tuple[SpanEvent, ...] = ()
        message = ""
        if failure is not None:
            message = failure.message
            if call.kind != "service" or failure.etype == "DeadlineExceeded":
                events = (
                    SpanEvent(
                        end,
                        "exception",
                        {"exception.type": failure.etype, "exception.message": failure.message},
                    ),
                )
        name = call.operation
        if call.kind == "external":
            name = f"{call.operation} {call.target}"
        self.spans.append(
            Span(
                trace_id,
                span_id,
                parent,
                caller.name,
                name,
                _CLIENT_KIND,
                start + skew,
                end + skew,
                status,
                message,
                attrs,
                events,
                (),
                self.resources[instance],
            )
        )
        return end, failure


def _choose_target(rng: random.Random, topo: Topology, scenario: str) -> str:
    calls = [c for e in topo.entry_ops for c in walk(e.calls)]
    services = sorted({c.target for c in calls if c.kind == "service"})
    peers_of = {
        k: sorted({c.target for c in calls if c.kind == k}) for k in ("db", "cache", "external")
    }
    if scenario in ("slow-db",):
        return rng.choice(peers_of["db"])
    if scenario == "cache-outage":
        return peers_of["cache"][0]
    if scenario in ("uninstrumented-dep", "slow-external"):
        return rng.choice(peers_of["external"])
    if scenario == "pool-wait":
        with_db = sorted(
            {
                c.target
                for c in calls
                if c.kind == "service" and any(x.kind == "db" for x in c.children)
            }
        )
        return rng.choice(with_db)
    if scenario == "client-4xx":
        first = sorted({c.target for e in topo.entry_ops for c in e.calls})
        return rng.choice(first)
    return rng.choice(services)


def generate(
    scenario: str,
    *,
    seed: int,
    traces: int = 400,
    baseline_traces: int | None = None,
    pre_fraction: float = 0.4,
    duration_s: float = 1200.0,
    logs: bool = True,
    skew: bool | None = None,
) -> Scenario:
    """One synthetic incident. `traces` counts the incident export (of which `pre_fraction`
    falls before the fault starts); the baseline is a separate fault-free export."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    rng = random.Random(f"{scenario}:{seed}")
    topo = build_topology(rng)
    calls = [c for e in topo.entry_ops for c in walk(e.calls)]
    target = _choose_target(rng, topo, scenario)
    fault = _Fault(scenario, target)
    category, origin, kind = "transient", "infrastructure", "latency"
    if scenario == "slow-db":
        fault.magnitude_ms = rng.uniform(150, 500)
    elif scenario == "error-burst":
        fault.rate = rng.uniform(0.3, 0.6)
        fault.transient = rng.random() < 0.5
        if fault.transient:
            fault.code, fault.message = (
                503,
                ("UnavailableError", "upstream connect error or disconnect/reset before headers"),
            )
        else:
            fault.message = (
                "NullPointerException",
                'Cannot invoke "Order.getId()" because "order" is null',
            )
            category = "permanent"
        kind = "error"
    elif scenario == "timeout-cascade":
        fault.magnitude_ms = rng.uniform(1500, 3000)
        fault.rate = rng.choice((500.0, 800.0, 1000.0))  # the callers' timeout, ms
    elif scenario == "retry-storm":
        fault.rate = rng.uniform(0.4, 0.6)
        fault.code, fault.message = 503, ("ServiceUnavailable", "503 Service Unavailable")
        kind = "error"
    elif scenario == "pool-wait":
        fault.magnitude_ms = rng.uniform(200, 600)
        kind = "saturation"
    elif scenario == "bad-pod":
        node = topo.nodes[target]
        while len(node.instances) < 3:
            node.instances.append(node.instances[0][:-5] + f"{rng.getrandbits(20):05x}"[:5])
        fault.instance = rng.choice(node.instances)
        fault.rate = rng.uniform(0.5, 0.8)
        fault.message = ("OSError", "No space left on device: '/var/cache/tmp'")
        kind, category = "error", "fatal"
    elif scenario == "bad-deploy":
        node = topo.nodes[target]
        major, minor, _patch = (int(x) for x in node.version.split("."))
        fault.version = f"{major}.{minor + 1}.0"
        fault.new_instances = [
            n[: n.rfind("-", 0, n.rfind("-"))] + f"-{rng.getrandbits(36):09x}-"
            f"{rng.getrandbits(20):05x}"
            for n in node.instances[:2]
        ]
        fault.rate = rng.uniform(0.5, 0.9)
        fault.message = (
            "NullPointerException",
            'Cannot read field "currency" because "price" is null',
        )
        kind, category = "deploy", "permanent"
    elif scenario == "fallback":
        fault.rate = rng.uniform(0.6, 1.0)
        fault.code, fault.message = 503, ("UnavailableError", "connection reset by peer")
        for c in calls:
            if c.target == target:
                c.optional = True
        kind, category = "error", "partial"
    elif scenario == "client-4xx":
        fault.rate = rng.uniform(0.3, 0.5)
        kind, category, origin = "client-input", "permanent", "user"
    elif scenario == "uninstrumented-dep":
        fault.rate = rng.uniform(0.4, 0.7)
        fault.code, fault.message = 503, ("HTTPError", f"503 Service Unavailable from {target}")
        kind, origin = "error", "dependency"
    elif scenario == "slow-external":
        fault.magnitude_ms = rng.uniform(400, 1500)
        origin = "dependency"
    elif scenario == "cache-outage":
        fault.magnitude_ms = rng.uniform(60, 200)
        kind, category = "error", "partial"
        for c in calls:
            if c.kind == "service" and any(x.target == target for x in c.children):
                dbs = [x for x in c.children if x.kind == "db"]
                if not dbs:
                    db_name = next(p for p, k in topo.peers.items() if k == "db")
                    system = next((x.system for x in calls if x.target == db_name), "postgresql")
                    dbs = [Call(db_name, "db", "SELECT items", system, base_ms=3.0, net_ms=0.2)]
                    c.children.append(dbs[0])
                for x in c.children:
                    if x.target == target:
                        x.optional = True
                        x.fallback = dbs
    elif scenario == "network-delay":
        fault.magnitude_ms = rng.uniform(80, 300)
        kind = "network"

    others = sorted({c.target for c in calls if c.target != target and c.kind == "service"})
    background = rng.choice(others) if others else ""
    skewed: tuple[str, int] | None = None
    if skew if skew is not None else rng.random() < 0.5:
        mids = [n for n in topo.nodes.values() if n.name not in (topo.entry, target)]
        if mids:
            node = rng.choice(mids)
            skewed = (
                rng.choice(node.instances),
                int(rng.choice((-1, 1)) * rng.uniform(20, 80) * _MS),
            )

    period_ns = int(duration_s * 1e9)
    start_ns = _BASE_TIME_NS + rng.randint(0, 86_400) * 1_000_000_000
    onset_ns = start_ns + int(period_ns * pre_fraction)
    weights = [e.weight for e in topo.entry_ops]

    def run(
        count: int, base: int, active_from: int, with_logs: bool, gen_rng: random.Random
    ) -> _Gen:
        gen = _Gen(gen_rng, topo, fault, background, skewed, with_logs)
        ops = gen_rng.choices(topo.entry_ops, weights, k=count)
        step = period_ns / max(1, count)
        for i, entry in enumerate(ops):
            t = base + int(i * step + gen_rng.random() * step)
            incident = t >= active_from
            fault.active = incident
            trace_id = f"{gen_rng.getrandbits(128):032x}"
            root = Call(
                entry.service,
                "service",
                entry.operation,
                children=entry.calls,
                base_ms=topo.nodes[entry.service].self_ms,
            )
            user = f"u-{gen_rng.randrange(topo.user_count)}"
            end, failure = gen.server(root, t, trace_id, None, incident, user, entry)
            if with_logs and (failure is not None or gen_rng.random() < 0.2):
                inst = gen.spans[-1].resource["k8s.pod.name"]
                gen.log(
                    end,
                    "INFO",
                    entry.service,
                    inst,
                    f"{entry.operation} completed in {(end - t) // _MS} ms "
                    f"status={500 if failure and not failure.user else 200}",
                    trace_id,
                    gen.spans[-1].span_id,
                    user_id=user,
                )
        fault.active = False
        return gen

    inc = run(traces, start_ns, onset_ns, logs, random.Random(f"{scenario}:{seed}:incident"))
    n_base = baseline_traces if baseline_traces is not None else traces
    base_gen = run(
        n_base,
        start_ns - period_ns - 3_600_000_000_000,
        1 << 62,
        logs,
        random.Random(f"{scenario}:{seed}:baseline"),
    )
    if logs and scenario == "pool-wait":
        node = topo.nodes[target]
        for i in range(40):
            t = onset_ns + int(i * (start_ns + period_ns - onset_ns) / 40)
            inc.log(
                t,
                "WARN",
                target,
                node.instances[i % len(node.instances)],
                f"HikariPool-1 - Connection is not available, request timed out after "
                f"{30000 + i}ms.",
            )

    alerts = _alerts(rng, topo, scenario, target, onset_ns, kind)
    truth = Truth(
        service=target,
        kind=kind,
        category=category,
        origin=origin,
        instance=fault.instance,
        version=fault.version,
        onset_ns=onset_ns,
        background=background,
    )
    return Scenario(
        scenario,
        seed,
        inc.spans,
        inc.logs,
        alerts,
        base_gen.spans,
        base_gen.logs,
        truth,
        topo,
        skewed[0] if skewed else None,
    )


def _alerts(
    rng: random.Random, topo: Topology, scenario: str, target: str, onset_ns: int, kind: str
) -> list[Alert]:
    entry = topo.entry
    fired = onset_ns + rng.randint(60, 240) * 1_000_000_000
    symptom_name = (
        "HighErrorRate" if kind in ("error", "deploy", "client-input") else ("HighLatencyP99")
    )
    alerts = [
        Alert(
            source="alertmanager",
            status="firing",
            name=symptom_name,
            severity="page",
            service=entry,
            labels={"alertname": symptom_name, "service": entry, "severity": "page"},
            annotations={
                "summary": f"{entry} {symptom_name} above SLO",
                "runbook_url": f"https://runbooks.example/{symptom_name.lower()}",
            },
            starts_ns=fired,
            fingerprint=f"{rng.getrandbits(64):016x}",
            runbook=f"https://runbooks.example/{symptom_name.lower()}",
        )
    ]
    if rng.random() < 0.5:
        name = {
            "slow-db": "PostgresSlowQueries",
            "pool-wait": "ConnectionPoolExhausted",
            "cache-outage": "RedisDown",
            "bad-pod": "PodErrorRateHigh",
        }.get(scenario, "ServiceDegraded")
        alerts.append(
            Alert(
                source="alertmanager",
                status="firing",
                name=name,
                severity="warning",
                service=target,
                labels={"alertname": name, "service": target, "severity": "warning"},
                annotations={
                    "summary": f"{target}: {name}",
                    "description": f"Check {target} dashboards; restart if stuck.",
                },
                starts_ns=fired + rng.randint(10, 120) * 1_000_000_000,
                fingerprint=f"{rng.getrandbits(64):016x}",
            )
        )
    return alerts
