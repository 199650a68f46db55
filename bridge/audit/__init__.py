"""``python -m bridge audit``: every number tied to an artifact, a quantity and a theorem — and checked."""
