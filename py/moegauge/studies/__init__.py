"""Studies built on the measurement core: one subpackage per study (``coactivation``, ...)."""
