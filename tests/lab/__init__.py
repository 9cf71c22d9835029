"""Real servers on loopback and the private PKI they serve."""
