"""Raw datasets: the declarative ``dataset.yaml`` layout, validation and the synthetic catalogue.

This package stays free of TensorFlow so that validating or generating data is
fast and works anywhere numpy, pandas, pyarrow, pillow and pyyaml do.
"""
