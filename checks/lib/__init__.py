"""Reusable machinery that checks share: no verdicts, no words, only facts."""
