"""Seed 000's gauge G as a predictor of 1-bit damage (``predictor``), run as the ``gauge`` stage."""
