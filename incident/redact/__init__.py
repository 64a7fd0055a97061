"""Redaction of secrets and personal data before anything leaves the machine, and for
`incident redact`: rules, the Redactor that applies them, and walkers for bundles and files.
"""

from incident.redact.redactor import PLACEHOLDER, Redactor
from incident.redact.rules import Rule, default_rules, is_id_key, is_sensitive_key
from incident.redact.structured import redact_bundle, redact_document, redact_file_bytes

__all__ = [
    "PLACEHOLDER",
    "Redactor",
    "Rule",
    "default_rules",
    "is_id_key",
    "is_sensitive_key",
    "redact_bundle",
    "redact_document",
    "redact_file_bytes",
]
