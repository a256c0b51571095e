"""The ledger: every verdict and deployment remembered (SPEC section 12)."""
