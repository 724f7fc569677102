"""Acting as a customer, an operator or a partner: the same helpers `make demo` uses (tools/actors.py)."""

from tools.actors import *  # noqa: F403
