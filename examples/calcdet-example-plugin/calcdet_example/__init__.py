"""An example third-party calcdet plugin (a template to copy)."""
