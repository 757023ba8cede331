"""kafkabook: Apache Kafka, explorable inside Jupyter.

The plain Python API (the magics are a thin parser over it)::

    import kafkabook as kb
    kb.cluster_up(brokers=3)                         # or kb.connect("host:9092", {...})
    kb.topics.create("orders", partitions=3, replication_factor=2)
    kb.produce("orders", ["a", "b"], key="k")
    records = kb.consume("orders", from_beginning=True, max_messages=10)
    kb.groups.describe("g1"); kb.configs.describe("topics", "orders")
    kb.broker.kill(2); kb.broker.start(2)
    kb.cluster_down()

In IPython or Jupyter, ``%load_ext kafkabook`` adds ``%kafka``, ``%consume`` and ``%%produce``
(``%kafka help`` lists them). `Cluster` is the backend facade underneath ``cluster_up``.

>>> import kafkabook as kb
>>> kb.cluster_up().bootstrap                       # doctest: +SKIP
'127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094'
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

# Public names loaded on first use: `import kafkabook` stays cheap, because every broker
# process imports it and none of them needs aiokafka, pandas or IPython.
_LAZY = {
    "Cluster": "kafkabook.api.cluster",
    "cluster_up": "kafkabook.api.session",
    "cluster_down": "kafkabook.api.session",
    "cluster_status": "kafkabook.api.session",
    "connect": "kafkabook.api.session",
    "topics": "kafkabook.api.topics",
    "configs": "kafkabook.api.configs",
    "groups": "kafkabook.api.groups",
    "produce": "kafkabook.api.produce",
    "consume": "kafkabook.api.consume",
    "broker": "kafkabook.api.brokers",
    "ProducerRecord": "kafkabook.api.lines",
    "KafkabookError": "kafkabook.api.errors",
    "course": "kafkabook.course",
    "viz": "kafkabook.viz",
    "show": "kafkabook.viz",
    "load_ipython_extension": "kafkabook.magics",
    "unload_ipython_extension": "kafkabook.magics",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kafkabook' has no attribute {name!r}")
    imported = importlib.import_module(module)
    # A name that is itself a submodule (kb.course) is the module; others are its attribute.
    value = imported if module == f"{__name__}.{name}" else getattr(imported, name)
    if name != "broker":
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """``kb.broker`` is the broker API, although ``kafkabook.broker`` is also a subpackage.

    Importing a submodule binds it as an attribute of its parent; for ``kafkabook.broker`` (the
    broker processes' code) that would hide ``kb.broker.kill``. So that one binding is not
    kept here: the package stays in ``sys.modules``, and the API object forwards attribute
    lookups to it, so ``import kafkabook.broker.records`` and friends still work.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "broker" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
