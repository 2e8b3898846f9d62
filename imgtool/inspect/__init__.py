"""Inspection: docker's inspect/history views, where a layer's bytes go, and the secrets an image leaks."""
