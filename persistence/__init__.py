"""Persistence adapter: a piccolo app with tables, migrations, repositories and read models."""
