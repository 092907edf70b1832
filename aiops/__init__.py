"""aiops: Kubernetes AIOps operator and SRE copilot."""
