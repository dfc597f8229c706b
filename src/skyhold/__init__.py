"""Skyhold: a local, offline AWS-compatible cloud whose security plane is real."""

__version__ = "0.1.0"
