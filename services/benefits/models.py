"""Benefits tables."""

from __future__ import annotations

from services.runtime.outbox import OutboxEvent, ProcessedMessage  # noqa: F401  (shared tables)
