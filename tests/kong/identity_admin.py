"""Partner registration and key rotation straight at the identity service (what head office would do)."""

from __future__ import annotations

import uuid

from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc

from tests.support.channels import stack_channel
from tools.stack import Stack


def register_partner(stack: Stack, prefix: str) -> tuple[str, str, bytes]:
    """A new partner with its first signing key: (partner_id, key_id, secret)."""
    partner_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    with stack_channel(stack, "identity") as channel:
        resp = identity_pb2_grpc.RegistryServiceStub(channel).RegisterPartner(
            pb.RegisterPartnerRequest(
                partner=pb.Partner(
                    partner_id=partner_id, name="Edge Test Co.", sector="mobility", allowed_scopes=["profile"]
                )
            ),
            timeout=5,
        )
    return partner_id, resp.signing_key_id, resp.signing_secret


def rotate_partner_key(stack: Stack, partner_id: str, overlap_s: int) -> tuple[str, bytes]:
    """A new current key; the previous one stays valid for `overlap_s` seconds."""
    with stack_channel(stack, "identity") as channel:
        resp = identity_pb2_grpc.RegistryServiceStub(channel).RotatePartnerSigningKey(
            pb.RotatePartnerSigningKeyRequest(partner_id=partner_id, overlap_seconds=overlap_s), timeout=5
        )
    return resp.key_id, resp.secret
