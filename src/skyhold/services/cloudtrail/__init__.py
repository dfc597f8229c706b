"""CloudTrail: the account's event history (LookupEvents)."""

from skyhold.services.cloudtrail.lookup import HANDLERS

__all__ = ["HANDLERS"]
