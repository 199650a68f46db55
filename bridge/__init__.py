"""MoEGauge bridge: reads the Lean sources, tracks theorem status, audits evidence against it.

The bridge is the auditor. It may import ``moegauge`` (the producer) but never the reverse.
"""

__version__ = "0.1.0"
