"""The one runtime package that the gateway and every Lattice service import."""
