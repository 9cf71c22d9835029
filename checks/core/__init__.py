"""The stdlib-only foundation: data model, settings, targets, the check contract."""
