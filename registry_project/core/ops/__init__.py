"""The work behind `ModelRegistry`'s public calls: one module per concern (see
docs/ARCHITECTURE.md, "The rooms")."""
