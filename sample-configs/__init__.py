"""Sample configurations, shipped inside the package as ``runbook.sample_configs``."""
