"""Handshake Doctor's Qt window; it drives the `checks` engine and holds no diagnosis logic."""
