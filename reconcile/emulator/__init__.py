"""A local, wire-faithful MPS + VOD server: pure backend, gateway rules, ASGI adapter, real server."""
