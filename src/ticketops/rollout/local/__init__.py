"""The one-machine rollout backend: serving processes, Prometheus and a traffic splitter on loopback."""
