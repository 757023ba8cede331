"""Live widgets over a Kafka cluster, read through the Kafka protocol only.

>>> import kafkabook.viz as viz
>>> viz.show.cluster()            # brokers × partitions, replica states   # doctest: +SKIP
>>> viz.show.hashing(topic="orders")                                        # doctest: +SKIP
>>> viz.show.offsets(topic="orders", group="billing")                       # doctest: +SKIP
>>> viz.show.groups()                                                       # doctest: +SKIP
>>> viz.show.timeline()                                                     # doctest: +SKIP

Layers, each usable on its own: `snapshot` (frozen snapshots and the protocol requests that
fill them), `partitioner` (Kafka's and librdkafka's key placement), `models` (pure view
models), `charts` (Vega-Lite v5 specs), `live` (background polling), `widgets`.
"""

from kafkabook.viz import show
from kafkabook.viz.live import Source, live_widgets, stop_all
from kafkabook.viz.partitioner import java_partition, librdkafka_partition, murmur2, to_positive
from kafkabook.viz.widgets import (
    ClusterWidget,
    GroupsWidget,
    HashingWidget,
    OffsetsWidget,
    TimelineWidget,
)

__all__ = [
    "ClusterWidget",
    "GroupsWidget",
    "HashingWidget",
    "OffsetsWidget",
    "Source",
    "TimelineWidget",
    "java_partition",
    "librdkafka_partition",
    "live_widgets",
    "murmur2",
    "show",
    "stop_all",
    "to_positive",
]
