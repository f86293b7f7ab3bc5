"""ticketops: train, register, serve, monitor and roll out a support-ticket classifier."""

__version__ = "0.1.0"
