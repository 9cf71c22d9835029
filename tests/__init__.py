"""Handshake Doctor's test suite."""
