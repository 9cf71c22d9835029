"""The release's build stamp; packaging overwrites it when freezing."""

from __future__ import annotations

# ISO 8601 UTC. The clock check treats a clock earlier than this (minus a margin) as certainly
# wrong, so the value must never be later than the moment the release is actually built.
BUILD_TIME = "2026-11-23T00:00:00Z"
