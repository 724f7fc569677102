"""HTTP routes, one module per service; thin: validate, authenticate, call gRPC, shape the answer."""
