"""KV caches for decode: the 1-bit K cache on packed bits, its peers (KIVI-style, QJL-style, HF
QuantizedCache backends) and the V-cache ablation of seed 001 §S8.

Every cache here is a transformers ``Cache`` whose ``stored_nbytes()`` returns the bytes held by
its stored tensors by part; parts are named ``key_*``, ``value_*`` or ``metadata`` so the K and V
bits per element are counted from tensors, never from a formula (``accounting.split_key_value_bytes``).
"""
