"""Statutory partnership-duty compliance tracker."""

__version__ = "0.1.0"
