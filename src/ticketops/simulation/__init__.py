"""Simulated traffic: drift scenarios over seed tickets and the drivers that send them to a service."""
