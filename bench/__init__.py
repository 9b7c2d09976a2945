"""braidrec benchmarks: peers, harness and results (``make bench-quality``)."""
