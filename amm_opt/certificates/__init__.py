"""Certificates behind upper bounds: the data that proves a bound, typed and checkable."""
