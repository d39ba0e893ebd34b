"""The ``calcdet`` command line."""
