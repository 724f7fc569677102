"""The deadline of the request being served, shared by everything that works on it.

The gateway sets it from its request timeout, a gRPC service from the caller's deadline. Calls made
while serving (see grpc_client) pass the time left downstream, and database transactions never wait
for a lock past it (see db), so a caller hears a clear answer before it gives up.
"""

from __future__ import annotations

import contextvars
import time

# Absolute time.monotonic() deadline of the request being served; None when there is none.
current_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "lattice_deadline", default=None
)


def remaining_s() -> float | None:
    """Seconds left before the current deadline (negative once past it), or None without one."""
    deadline = current_deadline.get()
    return None if deadline is None else deadline - time.monotonic()
