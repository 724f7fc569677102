"""content: reviewed items with edition variants, compliance, resource slots and fast serving."""
