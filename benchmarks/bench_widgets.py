"""Widget benchmark: the kernel time one refresh of the cluster widget costs.

    python benchmarks/bench_widgets.py [--partitions 30] [--refreshes 60]

It starts a bundled cluster of 3 brokers with one topic of N partitions (replication factor 3),
then a real IPython kernel (so widget updates are serialized and sent over real comms, as in
Jupyter) that opens ``kafkabook.viz.show.cluster`` on it. A producer in this process keeps
writing to every partition, so every refresh finds new offsets and redraws the grid: the
worst case, not the idle one.

A refresh is measured as the thread CPU time it costs in the kernel process:

* collect: on kafkabook's background loop, from sending the Metadata, DescribeQuorum,
  ListOffsets and DescribeLogDirs requests to having the frozen snapshot (encoding, decoding,
  parsing; the wait for the brokers costs no CPU and is not counted);
* render: the view model, the grid's HTML, the chart spec and the trait updates under
  ``hold_sync()`` (JSON serialization and the comm messages);
* status: the backend's ``status()`` (process states), which runs on a worker thread.

The target (issue 6) is under 50 ms per refresh for 3 brokers and 30 partitions; it prints
the median, p95 and max, and PASS/MISS on the median. This is a benchmark, not a test: pytest
does not collect it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

TARGET_MS = 50.0

KERNEL_CODE = """
import json, time
from kafkabook.backends.bundled import BundledBackend
from kafkabook.viz import show

backend = BundledBackend(data_dir={data_dir!r})
widget = show.cluster(backend, topic={topic!r})
assert widget.wait_refresh(timeout=60), widget.status_line.value
# Warm up: the first refreshes open connections and load kio's schemas.
for _ in range(5):
    widget.wait_refresh(timeout=30)
start = widget.refreshes
widget.costs.clear()
began = time.monotonic()
while widget.refreshes < start + {refreshes}:
    widget.wait_refresh(timeout=30)
elapsed = time.monotonic() - began
status_cpu = []
for _ in range(20):
    cpu = time.thread_time()
    backend.status()
    status_cpu.append(time.thread_time() - cpu)
rows = len(widget.view.rows)
costs = list(widget.costs)
widget.close()
print("RESULT " + json.dumps({{"costs": costs, "status": status_cpu, "rows": rows,
                              "elapsed": elapsed, "errors": widget.errors}}))
"""


def produce_forever(bootstrap: str, topic: str, stop: threading.Event) -> int:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    sent = 0
    while not stop.is_set():
        for partition in range(64):
            try:
                producer.produce(topic, value=b"x" * 100, partition=partition % PARTITIONS)
            except BufferError:
                producer.poll(0.05)
            sent += 1
        producer.poll(0)
        time.sleep(0.02)
    producer.flush(10)
    return sent


PARTITIONS = 30


def run_in_kernel(code: str, timeout: float) -> dict:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    found: dict = {}
    printed: list[str] = []

    def output(message: dict) -> None:
        content = message["content"]
        if message["msg_type"] == "stream":
            printed.append(content["text"])
        elif message["msg_type"] == "error":
            printed.append("\n".join(content["traceback"]))

    try:
        reply = client.execute_interactive(code, timeout=timeout, output_hook=output)
        if reply["content"]["status"] != "ok":
            raise RuntimeError("the kernel failed:\n" + "".join(printed)[-3000:])
        for text in "".join(printed).splitlines():
            if text.startswith("RESULT "):
                found = json.loads(text[len("RESULT ") :])
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    if not found:
        raise RuntimeError("no result from the kernel:\n" + "".join(printed)[-3000:])
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    global PARTITIONS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=30)
    parser.add_argument("--refreshes", type=int, default=60)
    args = parser.parse_args()
    PARTITIONS = args.partitions

    from confluent_kafka.admin import AdminClient, NewTopic

    from kafkabook.backends.bundled import BundledBackend

    with tempfile.TemporaryDirectory(prefix="kb-bench-widgets-") as tmp:
        backend = BundledBackend(data_dir=Path(tmp) / "cluster", brokers=3)
        backend.up()
        stop = threading.Event()
        try:
            topic = "bench"
            admin = AdminClient({"bootstrap.servers": backend.bootstrap})
            admin.create_topics([NewTopic(topic, args.partitions, 3)])[topic].result(30)
            producer = threading.Thread(
                target=produce_forever, args=(backend.bootstrap, topic, stop), daemon=True
            )
            producer.start()
            code = KERNEL_CODE.format(
                data_dir=str(backend.data_dir), topic=topic, refreshes=args.refreshes
            )
            result = run_in_kernel(code, timeout=60 + args.refreshes * 5)
        finally:
            stop.set()
            backend.down()

    collect = [c * 1000 for c, _ in result["costs"]]
    render = [r * 1000 for _, r in result["costs"]]
    status = statistics.median(result["status"]) * 1000
    total = [c + r + status for c, r in zip(collect, render, strict=True)]
    print(
        f"cluster widget: 3 brokers, {result['rows']} partitions (RF 3), "
        f"{len(total)} refreshes in {result['elapsed']:.1f} s, producing all along"
    )
    for name, values in (("collect", collect), ("render", render)):
        print(
            f"  {name:8} median {statistics.median(values):6.1f} ms   "
            f"p95 {percentile(values, 0.95):6.1f} ms   max {max(values):6.1f} ms"
        )
    print(f"  {'status':8} median {status:6.1f} ms")
    median = statistics.median(total)
    print(
        f"  {'total':8} median {median:6.1f} ms   p95 {percentile(total, 0.95):6.1f} ms   "
        f"max {max(total):6.1f} ms   (kernel thread CPU per refresh)"
    )
    if result["errors"]:
        print("widget errors:", result["errors"][:1])
    verdict = "PASS" if median < TARGET_MS and not result["errors"] else "MISS"
    print(
        f"{verdict}: one refresh costs {median:.1f} ms of kernel time (target < {TARGET_MS:g} ms)"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
