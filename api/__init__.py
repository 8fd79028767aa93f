"""The composition root: settings, the GraphQL schema, HTTP routes, the CLI."""
