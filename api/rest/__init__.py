"""The REST entry points: GitLab instance, GitLab.com, OAuth, health, metrics."""
