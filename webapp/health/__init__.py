"""Health checks for operators and orchestrators."""
