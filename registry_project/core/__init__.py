"""The registry itself: metadata in SQL, bytes in content-addressed blobs. No Dagster here."""
