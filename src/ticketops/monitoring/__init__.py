"""Production watch: drift signals (Evidently), the scheduled monitor, its metrics and traffic scenarios."""
