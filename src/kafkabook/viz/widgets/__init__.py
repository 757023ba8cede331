"""The five widgets. Open them with `kafkabook.viz.show` (``kb.show.cluster()`` ...)."""

from kafkabook.viz.widgets.cluster import ClusterWidget
from kafkabook.viz.widgets.groups import GroupsWidget
from kafkabook.viz.widgets.hashing import HashingWidget
from kafkabook.viz.widgets.offsets import OffsetsWidget
from kafkabook.viz.widgets.timeline import TimelineWidget

__all__ = ["ClusterWidget", "GroupsWidget", "HashingWidget", "OffsetsWidget", "TimelineWidget"]
