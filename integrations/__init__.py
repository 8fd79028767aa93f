"""Driven adapters that reach the world outside: GitLab.com, email, alerts."""
