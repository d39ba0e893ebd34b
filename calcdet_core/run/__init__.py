"""Running pipelines: YAML validation, the engine, executors, and the train/detect/evaluate workflows."""
