"""Serving: redaction, the prediction log, metric definitions (the BentoML service lives in serving/)."""
