"""Verification of a dump or a live chip: passive authentication, conformance checks, cross-checks."""
