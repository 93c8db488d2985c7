"""A world: ``assembly.py`` starts every site on loopback TLS with its PC/SC stack; ``sites.py`` runs one
application on a port; ``resolver.py`` lets clients reach real host names; ``host.py`` drives a world from
synchronous code; ``console.py`` prints what a person needs to use one."""
