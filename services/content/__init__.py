"""content service."""
