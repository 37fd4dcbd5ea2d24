"""saltext-chain: a CI/CD production chain as Salt code."""

__version__ = "0.1.0"
