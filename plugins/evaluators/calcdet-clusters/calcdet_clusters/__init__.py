"""calcdet-clusters: microcalcification clusters, a cluster-level FROC and DICOM SR output."""
