"""The customer portal (docs/portal.md): a page and its files served at ``/portal/``, speaking
only the public GraphQL API with a token from the authorization-code + PKCE flow."""
