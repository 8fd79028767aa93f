"""OAuth 2 adapter: clients, grants, tokens, and the bearer-token authentication backend.

So far: signing keys kept in the database (``keys``) and RFC 9068 access tokens
(``tokens``). The authorization server, the authentication backend and the policy arrive
with the rest of the OAuth issue; until then every request carries the anonymous principal.
"""
