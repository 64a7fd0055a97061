"""incident: from exported traces, logs and alerts to a diagnosis and a postmortem draft."""

__version__ = "0.1.0"
