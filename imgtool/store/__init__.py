"""The local content store: an OCI image layout with atomic verified blobs and named images."""
