"""kafkabook: Apache Kafka, explorable inside Jupyter.

>>> import kafkabook as kb
>>> cluster = kb.Cluster()      # the bundled backend: local Python brokers   # doctest: +SKIP
>>> cluster.up().bootstrap                                                    # doctest: +SKIP
'127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094'
"""

from kafkabook.api.cluster import Cluster

__version__ = "0.1.0"

__all__ = ["Cluster", "__version__"]
