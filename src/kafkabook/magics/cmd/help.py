"""``%kafka help``: the overview of every magic."""

from __future__ import annotations

from kafkabook.magics.parsing import Help

OVERVIEW = """\
kafkabook magics (every one is a call of the Python API: import kafkabook as kb)

  %kafka cluster up|down|status [--brokers N] [--backend bundled|jvm|testcontainers]
                                [--data-dir D]                    kb.cluster_up(brokers=3)
  %kafka connect BOOTSTRAP [--config k=v ...]                     kb.connect("host:9092", {...})
  %kafka topics --create|--list|--describe|--alter|--delete [--topic T] [--partitions N]
                [--replication-factor R] [--config k=v]           kb.topics.create("orders", 3)
  %kafka groups --list|--describe|--reset-offsets|--delete [--group G] [--topic T]
                [--to-earliest|--to-latest|--to-offset N|--shift-by N|--to-datetime ISO]
                [--dry-run|--execute]                             kb.groups.describe("g1")
  %kafka configs --describe|--alter --entity-type topics|brokers --entity-name X
                 [--add-config k=v,...] [--delete-config k,...]   kb.configs.describe(...)
  %kafka broker kill|stop|start|pause|resume ID                   kb.broker.kill(2)
  %kafka show cluster|hashing|offsets|groups|timeline [--topic T]  kb.viz.show.cluster()
  %consume TOPIC [--from-beginning] [--group G] [--max-messages N] [--timeout S]
           [--partition P] [--offset O] [--property print.key=true] [--follow]
                                                                  kb.consume("orders", ...)
  %%produce TOPIC [--key-separator S] [--headers] [--acks all] [--json] [--property k=v]
                                                                  kb.produce("orders", [...])

Add --help to any of them for its flags and an example, and --debug to see a traceback.

example:
  %kafka cluster up
  %kafka topics --create --topic orders --partitions 3 --replication-factor 2
  %%produce orders --key-separator '|'
  alice|ordered a book
  records = %consume orders --from-beginning --property print.key=true"""


def run() -> Help:
    return Help(OVERVIEW)
