"""The MLflow registry: model references, the client, registration with lineage, verified loading by URI."""
