"""RabbitMQ faults and probes: message loss, consumer lag and dead letters."""
