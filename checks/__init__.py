"""Handshake Doctor's diagnosis engine and headless CLI; pure Python, never Qt."""
