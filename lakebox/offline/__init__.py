"""The offline store: feature-group tables on Apache Iceberg through pyiceberg (DESIGN §1, §4)."""
