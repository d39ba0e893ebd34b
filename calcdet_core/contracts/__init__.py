"""The contracts between calcdet and its plugins: hook specs, component base classes, the data model."""
