"""Thin command line over :mod:`heatreuse.services` (entry point: ``heatreuse``)."""
