"""The GitLab.com provisioning client and its internal JWT."""
