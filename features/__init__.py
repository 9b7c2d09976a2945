"""braidrec.features."""
