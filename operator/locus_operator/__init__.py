"""The Locus Kubernetes operator: reconciles CodeLocation and Instance custom
resources into code-server Deployments and the system services."""
