"""Golden set: taxonomy, schema, import/export, labels and agreement."""
