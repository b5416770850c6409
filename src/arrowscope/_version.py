"""The version of arrowscope (kept apart so that any module can read it without the package)."""

__version__ = "0.1.0"
