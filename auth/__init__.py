"""OAuth 2 adapter: clients, grants, tokens, and the bearer-token authentication backend.

It arrives with the OAuth issue; until then every request carries the anonymous principal.
"""
