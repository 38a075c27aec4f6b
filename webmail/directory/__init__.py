"""The national directory of health professionals (Annuaire Santé): a local searchable index."""
