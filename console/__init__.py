"""The operations workbench: a server-rendered client of the gateway's operator API."""
