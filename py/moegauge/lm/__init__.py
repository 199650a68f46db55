"""Language-model side of MoEGauge: corpus, embedded model, capture, 1-bit K cache, perplexity."""
