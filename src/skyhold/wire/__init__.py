"""HTTP ⇄ operation, driven by botocore's service models (all five protocols)."""
