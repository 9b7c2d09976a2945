"""braidrec.pipeline."""
