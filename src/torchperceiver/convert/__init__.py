"""Weights from other implementations."""
