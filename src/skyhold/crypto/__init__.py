"""Encryption at rest: the data dir's root key and sealing with it."""
