"""The GitLab Dedicated tenant provisioner adapter (docs/dedicated.md)."""
