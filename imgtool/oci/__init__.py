"""The OCI image-spec as Python: digests, media types, descriptors, manifests, indexes, configs,
references and schema validation. Pure data, no I/O beyond reading the bundled schemas.

The package imports none of its modules: `from imgtool.oci.digest import Digest` should not pay
for configs, references and schemas (every CLI call imports some of them; start-up time).
"""
