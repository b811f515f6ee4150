"""Routers that accept the seed products' documented requests and translate them onto the hub's services.

`bytenite` (secrets, `dataSource` objects) and `foundation` (data sources, systems,
links, connections, env-key secrets). Each registers its product's error envelope for
its own path prefixes; neither implements anything the services do not.
"""
