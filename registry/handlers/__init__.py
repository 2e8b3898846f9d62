"""HTTP handlers, one module per resource of the distribution API (routes are wired in `app`)."""
