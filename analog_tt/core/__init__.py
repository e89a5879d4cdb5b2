"""Foundations every other layer uses: seeding and determinism, files, provenance, vocabulary.

Nothing here imports another ``analog_tt`` subpackage.
"""
