"""kafkabook: Apache Kafka, explorable inside Jupyter."""

__version__ = "0.1.0"
