"""Video data: IO with PyAV, clip sampling, transforms, synthetic and real datasets, safe downloads (chapter 05)."""
