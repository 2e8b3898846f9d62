"""The layer codec: deterministic tar writer, validating reader, gzip/zstd streams, whiteouts."""
