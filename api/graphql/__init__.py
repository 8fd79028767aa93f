"""The GraphQL adapter: strawberry types, queries, loaders and limits."""
