"""Data files (finding texts, interface words, catalogues) loaded through importlib.resources."""
