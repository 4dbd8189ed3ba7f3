"""The domain: sessions, images, specs and their rules. Imports only the standard library and pydantic."""
