"""braidrec.models."""
