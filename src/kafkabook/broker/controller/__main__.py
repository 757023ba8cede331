"""Entry point: `python -m kafkabook.broker.controller --node-id 0 --port P --data-dir D`."""

from kafkabook.broker.controller.server import main

raise SystemExit(main())
