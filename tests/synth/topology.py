"""Random service topologies for synthetic incidents: names, replicas, protocols and call trees
drawn from a seed, so no two scenarios share one hand-made shape.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

_ENTRY_NAMES = ("frontend", "gateway", "web", "edge", "storefront", "api-gateway", "bff", "portal")
_SERVICE_WORDS = (
    "orders",
    "inventory",
    "catalog",
    "pricing",
    "shipping",
    "billing",
    "users",
    "accounts",
    "search",
    "reviews",
    "recommendations",
    "notifications",
    "ledger",
    "quotes",
    "profile",
    "sessions",
    "fraud",
    "tax",
    "currency",
    "ads",
    "loyalty",
    "wishlist",
    "media",
    "routing",
    "booking",
    "tickets",
    "stations",
    "seats",
    "config",
    "checkout",
    "payment",
    "auth",
)
_SUFFIXES = ("-service", "-svc", "", "-api", "service")
_DB_SYSTEMS = ("postgresql", "mysql", "mongodb", "mssql")
_CACHE_SYSTEMS = ("redis", "memcached")
_EXTERNAL = (
    "api.stripe-sandbox.example",
    "maps.partner.example",
    "sms.gateway.example",
    "geo.lookup.example",
    "fx-rates.example",
    "kyc.vendor.example",
    "mail.relay.example",
)
# Entry operations: (template, business-critical word or "").
_ENTRY_OPS = (
    ("POST /api/checkout", "checkout"),
    ("POST /checkout", "checkout"),
    ("POST /api/payment", "payment"),
    ("POST /login", "login"),
    ("GET /api/cart", "cart"),
    ("POST /api/orders", "order"),
    ("GET /product/{id}", ""),
    ("GET /search", ""),
    ("GET /", ""),
    ("GET /api/recommendations", ""),
    ("GET /account", ""),
    ("POST /api/v1/bookings", ""),
    ("GET /api/v1/trips", ""),
)
_VERBS = ("Get", "List", "Create", "Update", "Check", "Find", "Compute", "Reserve", "Quote")
_NOUNS = ("Item", "Order", "Price", "Stock", "User", "Quote", "Route", "Ticket", "Profile", "Rate")


@dataclass
class Node:
    """One service in the topology."""

    name: str
    instances: list[str]
    version: str
    grpc: bool
    new_semconv: bool
    operations: list[str]
    self_ms: float


@dataclass
class Call:
    """A call from a server span to a callee: a service, or an uninstrumented peer."""

    target: str  # service name or peer name
    kind: str  # service|db|cache|external
    operation: str
    system: str = ""  # db.system for db/cache
    optional: bool = False  # the caller has a fallback: failures are absorbed
    children: list[Call] = field(default_factory=list)
    base_ms: float = 2.0  # server-side (or peer) time without children
    net_ms: float = 0.4  # one-way network latency
    fallback: list[Call] = field(default_factory=list)  # calls made instead when this fails


@dataclass
class EntryOp:
    service: str
    operation: str
    critical: bool
    calls: list[Call]
    weight: float


@dataclass
class Topology:
    nodes: dict[str, Node]
    entry: str
    entry_ops: list[EntryOp]
    peers: dict[str, str]  # peer name -> db|cache|external
    user_count: int


def _pod(rng: random.Random, service: str) -> str:
    alnum = "bcdfghjklmnpqrstvwxz2456789"
    rs = "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice((9, 10))))
    return f"{service}-{rs}-{''.join(rng.choice(alnum) for _ in range(5))}"


def _make_node(rng: random.Random, name: str, *, replicas: int | None = None) -> Node:
    grpc = rng.random() < 0.45
    count = replicas if replicas is not None else rng.choice((1, 2, 2, 3, 3, 4))
    ops: list[str] = []
    for _ in range(rng.randint(1, 3)):
        verb, noun = rng.choice(_VERBS), rng.choice(_NOUNS)
        if grpc:
            pkg = name.replace("-", "").replace("service", "").replace("svc", "") or "svc"
            ops.append(f"{pkg}.{noun}Service/{verb}{noun}")
        else:
            ops.append(f"{rng.choice(('GET', 'POST'))} /api/{noun.lower()}s")
    return Node(
        name=name,
        instances=[_pod(rng, name) for _ in range(count)],
        version=f"{rng.randint(1, 4)}.{rng.randint(0, 19)}.{rng.randint(0, 9)}",
        grpc=grpc,
        new_semconv=rng.random() < 0.5,
        operations=sorted(set(ops)),
        self_ms=rng.uniform(0.5, 4.0),
    )


def build_topology(rng: random.Random, *, min_services: int = 5) -> Topology:
    """A random call graph: an entry service, mid-tier services, databases, caches, APIs."""
    words = list(_SERVICE_WORDS)
    rng.shuffle(words)
    n_mid = rng.randint(min_services, min_services + 5)
    suffix = rng.choice(_SUFFIXES)
    mid_names = [w + suffix for w in words[:n_mid]]
    entry_name = rng.choice(_ENTRY_NAMES)
    nodes = {entry_name: _make_node(rng, entry_name, replicas=rng.choice((2, 3)))}
    for name in mid_names:
        nodes[name] = _make_node(rng, name)
    peers: dict[str, str] = {}

    # Peers: each backing store belongs to one or two services.
    db_names = [f"{w}-db" for w in words[n_mid : n_mid + 3]] + [rng.choice(("pg-main", "mysql-0"))]
    cache_name = rng.choice(("redis-cache", "session-cache", "memcached-0", "cache-redis"))
    ext_names = rng.sample(_EXTERNAL, 2)
    for d in db_names:
        peers[d] = "db"
    peers[cache_name] = "cache"
    for ext in ext_names:
        peers[ext] = "external"
    db_system = {d: rng.choice(_DB_SYSTEMS) for d in db_names}
    cache_system = rng.choice(_CACHE_SYSTEMS)

    # Layer the mid services so calls go downwards only (a DAG).
    layers: list[list[str]] = [[], [], []]
    for i, name in enumerate(mid_names):
        layers[min(2, i * 3 // n_mid)].append(name)

    def store_calls(service: str) -> list[Call]:
        calls: list[Call] = []
        if rng.random() < 0.75:
            db = rng.choice(db_names)
            table = service.split("-")[0].rstrip("s") or "item"
            calls.append(
                Call(
                    db,
                    "db",
                    f"SELECT {table}s",
                    db_system[db],
                    base_ms=rng.uniform(1.0, 5.0),
                    net_ms=0.2,
                )
            )
        return calls

    def service_call(name: str, depth: int) -> Call:
        node = nodes[name]
        call = Call(
            name,
            "service",
            rng.choice(node.operations),
            base_ms=node.self_ms,
            net_ms=rng.uniform(0.2, 1.0),
        )
        lower = [s for layer in layers[depth + 1 :] for s in layer] if depth < 2 else []
        if lower and depth < 3:
            for callee in rng.sample(lower, min(len(lower), rng.randint(0, 2))):
                call.children.append(service_call(callee, depth + 1))
        call.children.extend(store_calls(name))
        return call

    entry_ops: list[EntryOp] = []
    chosen = rng.sample(_ENTRY_OPS, rng.randint(2, 4))
    cache_user = rng.choice(mid_names)
    ext_users = rng.sample(mid_names, 2)
    for op, word in chosen:
        calls = [
            service_call(name, 0)
            for name in rng.sample(layers[0] or mid_names, min(2, len(layers[0] or mid_names)))
        ]
        calls.append(service_call(rng.choice(mid_names), 1))
        entry_ops.append(EntryOp(entry_name, op, bool(word), calls, rng.uniform(0.5, 2.0)))

    # Make sure every mid service is reachable from at least one entry op.
    for name in mid_names:
        if not any(c.target == name for e in entry_ops for c in walk(e.calls)):
            rng.choice(entry_ops).calls.append(service_call(name, 1))
    for e in entry_ops:
        for c in walk(e.calls):
            if c.kind != "service":
                continue
            if c.target == cache_user and not any(x.kind == "cache" for x in c.children):
                c.children.insert(
                    0,
                    Call(
                        cache_name,
                        "cache",
                        "GET",
                        cache_system,
                        base_ms=rng.uniform(0.2, 0.8),
                        net_ms=0.1,
                    ),
                )
            if c.target in ext_users and not any(x.kind == "external" for x in c.children):
                ext = ext_names[ext_users.index(c.target)]
                c.children.append(
                    Call(
                        ext,
                        "external",
                        "POST",
                        base_ms=rng.uniform(20, 60),
                        net_ms=rng.uniform(2, 8),
                    )
                )
    for d in db_names:
        if not any(c.target == d for e in entry_ops for c in walk(e.calls)):
            del peers[d]
    return Topology(nodes, entry_name, entry_ops, peers, rng.randint(200, 3000))


def walk(calls: list[Call]) -> list[Call]:
    """Every call below these, depth first."""
    out: list[Call] = []
    for c in calls:
        out.append(c)
        out.extend(walk(c.children))
    return out
