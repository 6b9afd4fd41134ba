"""What the operator sees: logs, metrics, /healthz, the /stats chart and the live check."""
