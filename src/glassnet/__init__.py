"""glassnet: a small, fast, readable neural-network library on NumPy."""

__version__ = "0.1.0"
