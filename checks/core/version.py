"""The version of Handshake Doctor, the single place it is stated."""

__version__ = "0.1.0"
