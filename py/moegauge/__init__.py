"""MoEGauge: measurement core for 1-bit K-cache quantization of MoE transformers."""

__version__ = "0.1.0"
