"""Mosaic Prompt Studio: author, compare and keep AI video prompts for Mosaic's Video Generation node."""

__version__ = "0.1.0"
__all__ = ["__version__"]
