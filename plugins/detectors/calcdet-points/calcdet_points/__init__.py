"""calcdet detector plugin: a dense point detector (light U-Net heat map of MC centres at full resolution)."""
