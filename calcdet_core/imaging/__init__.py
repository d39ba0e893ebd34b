"""Image operations shared by the core and plugins: preprocessing, regions, patches, input checks."""
