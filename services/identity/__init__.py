"""identity: the app-matrix registry, customers, tokens, cross-app recognition, partner binding, consent."""
