"""Production watch: drift signals through Evidently, the scheduled monitor, its gauges and its dashboards."""
