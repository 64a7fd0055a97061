"""Log templates: variable parts masked, counted per window, new and surging ones flagged."""

from __future__ import annotations

from incident.analysis.logs import mine, surge, template_of
from incident.model import LogRecord


def test_variable_parts_are_masked() -> None:
    """Numbers, uuids, hex ids, IPs and quoted strings become <*>."""
    msg = (
        "user 42 req 3f2a9c1b7e6d4a55 from 10.1.2.3:8080 id "
        '123e4567-e89b-12d3-a456-426614174000 said "hello there" in 12.5ms'
    )
    assert template_of(msg) == "user <*> req <*> from <*> id <*> said <*> in <*>"


def test_same_shape_messages_share_a_template() -> None:
    """Messages differing only in ids and numbers group under one template."""
    a = template_of("order 1234 failed: timeout after 3000ms")
    b = template_of("order 98 failed: timeout after 15ms")
    assert a == b


def test_new_and_surging_templates_against_the_pre_incident_part() -> None:
    """Counts split at the incident start; a template absent before is new; surge is the
    rate ratio."""
    logs = [LogRecord(t, "INFO", f"handled request {t}") for t in range(0, 100, 10)]
    logs += [LogRecord(t, "ERROR", f"pool exhausted after {t} ms") for t in range(50, 100, 5)]
    stats = {s.template: s for s in mine(logs, [], incident_start=50)}
    pool = stats["pool exhausted after <*> ms"]
    assert pool.count == 10 and pool.baseline_count == 0 and pool.level == "ERROR"
    handled = stats["handled request <*>"]
    assert handled.count == 5 and handled.baseline_count == 5
    assert surge(handled, 1.0) == 1.0
    assert surge(pool, 1.0) is None


def test_new_and_surge_need_enough_observations_in_a_report() -> None:
    """'New' and a surge are claims of change: below MIN_EVIDENCE records the report gives
    the counts alone (no label, no timeline entry), as for every other such claim."""
    from synth import generate

    from incident.analysis import diagnose
    from incident.analysis.evidence import MIN_EVIDENCE

    sc = generate("slow-db", seed=1, traces=200)
    bundle, baseline = sc.bundle(), sc.baseline_bundle()
    t0 = max(s.start_ns for s in bundle.spans) - 1_000_000
    svc = bundle.spans[0].service
    few, many = MIN_EVIDENCE - 2, MIN_EVIDENCE + 1
    bundle.logs += [LogRecord(t0 + k, "ERROR", f"rare fault {k}", svc) for k in range(few)]
    bundle.logs += [LogRecord(t0 + k, "ERROR", f"frequent fault {k}", svc) for k in range(many)]
    b0 = min(s.start_ns for s in baseline.spans)
    baseline.logs += [LogRecord(b0 + k, "ERROR", f"odd fault {k}", svc) for k in range(1)]
    bundle.logs += [LogRecord(t0 + k, "ERROR", f"odd fault {k}", svc) for k in range(3)]
    report = diagnose(bundle, baseline)
    by = {t.template: t for t in report.log_templates}
    assert by["frequent fault <*>"].new and by["frequent fault <*>"].count == many
    assert not by["rare fault <*>"].new and by["rare fault <*>"].count == few
    assert by["odd fault <*>"].surge is None and by["odd fault <*>"].baseline_count == 1
    events = " ".join(e.event for e in report.timeline)
    assert "frequent fault" in events and "rare fault" not in events
