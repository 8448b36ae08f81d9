"""Tracing (OpenTelemetry) and metrics (Prometheus) of LogTriage itself."""
