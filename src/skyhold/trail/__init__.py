"""The audit trail: one CloudTrail event per call, appended durably (group commit)."""
