"""``deployable serve``: the ledger and the gate over HTTP, for delivery controllers (SPEC §15)."""
