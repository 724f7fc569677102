"""The public HTTP edge of Lattice (FastAPI); Kong runs the same policies in production."""
