"""Data files shipped in the layer (the default plan catalog)."""
