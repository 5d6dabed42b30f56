"""What the service tells its operators: Prometheus metrics (metrics.py) and
OpenTelemetry traces (tracing.py). A leaf package: every layer may record into it,
it imports nothing of ours."""
