"""braidrec.serving."""
