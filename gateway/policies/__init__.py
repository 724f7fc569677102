"""Edge policies written once: the gateway runs them itself and Kong runs them in Python plugins.

Nothing here imports FastAPI or kong-pdk; the hosts adapt their request to `EdgeRequest` and turn a
`PolicyDenied` into their own error answer.
"""
