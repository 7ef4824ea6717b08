"""Storage: SQLAlchemy Core tables, repositories, migrations. Knows nothing of services or the wire."""
