"""Datadog engines: the log search evaluator (`search`)."""
