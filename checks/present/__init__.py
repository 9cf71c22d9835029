"""Words and documents: the catalogue, the report renderers, the decoder."""
