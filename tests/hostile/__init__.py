"""Misbehaving peers, broken networks and bad input: the app must stay calm."""
