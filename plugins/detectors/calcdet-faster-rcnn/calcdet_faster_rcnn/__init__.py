"""calcdet detector plugin: torchvision Faster R-CNN on sliding windows (the study's best pipeline)."""
