"""The tamper-evident audit trail and its signed checkpoint."""

from compliance.audit import checkpoint as checkpoint  # registers the after-commit writer
