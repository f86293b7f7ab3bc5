"""Retraining: agents' labels exported as a DVC data version, and the alert webhook that starts a retrain."""
