"""imgtool's bundled OCI distribution registry (distribution-spec v1.1).

Layout: `app` wires routes and middlewares, `handlers/` implement the endpoints, `storage/` is the
content store behind a narrow interface, `auth/` decides who may do what, `gc` reclaims unreferenced
blobs while the server runs. `server.run(config)` is the entry point; see docs/registry.md.
"""
