"""calcdet detector plugin: the study's ResNet patch classifier as a saliency-map detector."""
