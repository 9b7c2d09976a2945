"""Converters from public recommendation dataset layouts into the raw layout (``dataset.yaml``).

``braid data movielens --src DIR --out DIR`` detects the layout of ``DIR``
(:func:`detect_layout`) and calls the matching adapter; every adapter writes
Parquet tables, copies the images it finds and writes ``dataset.yaml``
through :mod:`braidrec.data.adapters.output`.
"""
