"""The ``kvcache`` stage: the 1-bit K cache against its peers on the same held-out windows, decoded
token by token, and the V-cache ablation (seed 001 §S8)."""
