"""Evaluation: metrics, behavioural checks, the promotion gate, the model card and plots."""
