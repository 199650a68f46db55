"""Seed 003 Part E, the FFN extension: effective dimension and β-lift of expert weights (``weights``)."""
