"""benefits service."""
