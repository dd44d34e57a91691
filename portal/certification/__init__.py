"""Tiered certification: tiers as data, eligibility on evidence, certificates and their lifecycle, public verification."""
