"""Channels the tests open to services: mutual TLS with one of the stack's identities.

A test calling a service directly plays the gateway: the principal its request names (the `actor`,
`caller` or `principal` message) travels as the signed on-behalf-of assertion the gateway would send.
"""

from __future__ import annotations

import collections

import grpc

from services.runtime.grpc_client import channel_options, open_sync_channel
from services.runtime.on_behalf import METADATA_KEY, claimed_principal, sign
from services.runtime.pki import ServiceIdentity
from tools.stack import Stack


def _with_assertion(details, request, identity: ServiceIdentity):
    principal = claimed_principal(request) if identity.name == "gateway" else None
    if principal is None:
        return details
    metadata = [*(details.metadata or ()), (METADATA_KEY, sign(principal, identity=identity))]
    return _SyncDetails(
        details.method,
        details.timeout,
        metadata,
        details.credentials,
        details.wait_for_ready,
        getattr(details, "compression", None),
    )


class _SyncDetails(
    collections.namedtuple(
        "_SyncDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class _AioClaimed(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, identity: ServiceIdentity) -> None:
        self._identity = identity

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        principal = claimed_principal(request) if self._identity.name == "gateway" else None
        if principal is not None:
            metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
            metadata.add(METADATA_KEY, sign(principal, identity=self._identity))
            client_call_details = grpc.aio.ClientCallDetails(
                client_call_details.method,
                client_call_details.timeout,
                metadata,
                client_call_details.credentials,
                client_call_details.wait_for_ready,
            )
        return await continuation(client_call_details, request)


class _SyncClaimed(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, identity: ServiceIdentity) -> None:
        self._identity = identity

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(_with_assertion(client_call_details, request, self._identity), request)


def aio_channel(addr: str, *, peer: str, identity: ServiceIdentity) -> grpc.aio.Channel:
    """An asyncio channel as `identity`, without default deadlines (tests set their own)."""
    return grpc.aio.secure_channel(
        addr,
        identity.channel_credentials,
        options=channel_options(peer),
        interceptors=[_AioClaimed(identity)],
    )


def stack_channel(stack: Stack, service: str, *, caller: str = "gateway") -> grpc.Channel:
    """A blocking channel to one of the stack's services, as `caller` (the gateway by default)."""
    channel = open_sync_channel(stack.config.addr(service), peer=service, identity=stack.identity(caller))
    return grpc.intercept_channel(channel, _SyncClaimed(stack.identity(caller)))
