"""The service layer: use cases over the ports. Knows no concrete adapter."""
