"""The Kubernetes rollout backend: Deployments, Services and HTTPRoutes patched through the API server."""
