"""Wire formats between Tollgate's functions: what one writes and another reads."""
