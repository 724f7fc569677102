"""reach service."""
