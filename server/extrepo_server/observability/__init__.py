"""What the service tells its operators: Prometheus metrics. A leaf package: every
layer may record into it, it imports nothing of ours."""
