"""The instance metadata service: one HTTP endpoint per running instance."""
