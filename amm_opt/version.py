"""The package version (one place: the package, the CLI and the sweep store keys read it)."""

__version__ = "0.1.0"
