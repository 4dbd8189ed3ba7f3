"""The domain: sessions, images, specs and their rules (standard library and pydantic only)."""
