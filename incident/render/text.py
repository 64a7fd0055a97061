"""Plain-text views without rich: the `inspect` inventory as a short, greppable summary."""

from __future__ import annotations

from typing import Any

from incident.analysis.evidence import plural
from incident.escape import safe_data


def render_inventory(inv: dict[str, Any]) -> str:
    """The inventory from `analysis.inventory.inventory` as a few labelled lines; file names,
    services, alert texts and warnings are data, shown on one line with control and
    invisible characters made visible."""
    inv = safe_data(inv)
    lines = ["Inputs:"]
    for item in inv.get("inputs", []):
        extra = f", {item['skipped']} skipped" if item.get("skipped") else ""
        lines.append(
            f"  {item['path']}  {item['kind']} ({item['format']}): {item['records']} records{extra}"
        )
    if len(lines) == 1:
        lines.append("  (none)")
    lines.append(
        f"Traces: {plural(inv.get('traces', 0), 'trace')}, {plural(inv.get('spans', 0), 'span')}"
    )
    services = inv.get("services", [])
    lines.append(f"Services ({len(services)}): {', '.join(services) if services else '-'}")
    lines.append(f"Logs: {plural(inv.get('logs', 0), 'record')}")
    alerts = inv.get("alerts", [])
    lines.append(f"Alerts: {len(alerts)}")
    for a in alerts:
        bits = [a.get("status") or "?", a.get("name") or "?"]
        if a.get("severity"):
            bits.append(f"severity {a['severity']}")
        if a.get("service"):
            bits.append(f"service {a['service']}")
        if a.get("starts_at"):
            bits.append(f"since {a['starts_at']}")
        lines.append(f"  [{a.get('source', '?')}] " + ", ".join(bits))
    span = inv.get("time_range", {})
    if span.get("start"):
        lines.append(f"Time range (UTC): {span['start']} .. {span['end']}")
    else:
        lines.append("Time range (UTC): unknown")
    for label, key in (("Notices", "notices"), ("Warnings", "warnings")):
        items = inv.get(key, [])
        if items:
            lines.append(f"{label} ({len(items)}):")
            lines.extend(f"  - {w}" for w in items)
    return "\n".join(lines) + "\n"
