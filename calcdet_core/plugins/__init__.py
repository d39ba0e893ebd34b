"""Plugin discovery and the registry of component classes (built-ins included)."""
