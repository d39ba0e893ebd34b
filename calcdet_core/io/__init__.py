"""Files in and out: DICOM and other image formats, detections CSV, model directories."""
