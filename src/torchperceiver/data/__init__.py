"""Datasets and readers, one file per format or sample kind."""
