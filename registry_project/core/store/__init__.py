"""SQL metadata store: schema, engine set-up, migrations and queries."""
