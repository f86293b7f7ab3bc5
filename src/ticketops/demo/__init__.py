"""``ticketops demo``: the whole loop on one machine, in a scratch workspace that leaves the repo untouched."""
