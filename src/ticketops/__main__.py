"""``python -m ticketops``: the same CLI as the ``ticketops`` script (used to start child processes)."""

from ticketops.cli import app

if __name__ == "__main__":
    app()
