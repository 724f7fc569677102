"""The gateway builds its request messages with `to_proto` from the request bodies, field by field by
name: a body field whose message has no field of that name would be dropped without a word (a proto
field renamed, a body field misspelt). Each body here names its fields as its message does, nested
bodies too, except the fields listed as travelling elsewhere; a body's enum values are the enum's."""

from __future__ import annotations

import typing
from typing import Any, Literal

import pytest
from google.protobuf.message import Message
from lattice.benefits.v1 import benefits_pb2
from lattice.common.v1 import app_event_pb2, core_milestone_pb2
from lattice.content.v1 import content_pb2
from lattice.conversion.v1 import conversion_pb2
from lattice.identity.v1 import identity_pb2
from lattice.reach.v1 import reach_pb2
from pydantic import BaseModel

from gateway.routes.benefits import lifecycle as benefit_lifecycle
from gateway.routes.benefits import schemas as benefits
from gateway.routes.content import schemas as content
from gateway.routes.conversion import goals, ops_links
from gateway.routes.conversion import schemas as conversion
from gateway.routes.core.milestones import CoreMilestoneCreate
from gateway.routes.identity import apps as identity_apps
from gateway.routes.identity import ops as identity_ops
from gateway.routes.identity import partner as identity_partner
from gateway.routes.identity import registry, signing_keys
from gateway.routes.identity.schemas import ConsentCreate
from gateway.routes.reach import schemas as reach
from gateway.routes.reach.receipts import ReceiptBatch
from services.runtime.proto_mapping import enum_number

SCOPE = {"app_id", "partner_id", "campaign_id"}  # a goal's scope: the MetricFilter beside it

CASES: list[tuple[type[BaseModel], type[Message], set[str]]] = [
    (content.ItemCreate, content_pb2.CreateItemRequest, set()),
    (content.ItemUpdate, content_pb2.EditItemRequest, set()),
    (content.ItemAction, content_pb2.SubmitItemRequest, set()),
    (content.ItemAction, content_pb2.PublishItemRequest, set()),
    (content.Approval, content_pb2.ApproveItemRequest, set()),
    (content.ReasonedAction, content_pb2.RejectItemRequest, set()),
    (content.ReasonedAction, content_pb2.ArchiveItemRequest, set()),
    (content.Rollback, content_pb2.RollbackItemRequest, set()),
    (content.SlotCreate, content_pb2.Slot, set()),
    (content.PlacementCreate, content_pb2.Placement, set()),
    (content.PlacementFields, content_pb2.Placement, set()),
    (conversion.CampaignCreate, conversion_pb2.Campaign, set()),
    (conversion.CampaignUpdate, conversion_pb2.Campaign, set()),
    (conversion.CampaignReview, conversion_pb2.ReviewCampaignRequest, set()),
    (conversion.PostbackEndpointSet, conversion_pb2.SetPostbackEndpointRequest, set()),
    (conversion.LinkKeyRotation, conversion_pb2.RotateLinkSigningKeyRequest, set()),
    (conversion.LinkCreate, conversion_pb2.CreateLinkRequest, set()),
    (ops_links.OpsLinkCreate, conversion_pb2.CreateLinkRequest, set()),
    (ops_links.PostbackResendCreate, conversion_pb2.ResendPostbackDeliveryRequest, set()),
    (goals.GoalCreate, conversion_pb2.Goal, SCOPE),
    (goals.GoalUpdate, conversion_pb2.Goal, SCOPE),
    (goals.GoalFields, conversion_pb2.MetricFilter, {"objective", "name", "measures"}),
    (benefits.BenefitDraft, benefits_pb2.Benefit, set()),
    (benefits.Review, benefits_pb2.ReviewBenefitRequest, set()),
    (benefits.Review, benefits_pb2.ReviewBenefitChangeRequest, set()),
    (benefits.Claim, benefits_pb2.GrantBenefitRequest, set()),
    # the device goes in the usage context, the hold's length beside the target
    (benefits.Use, benefits_pb2.RedemptionTarget, {"device_id", "hold_seconds"}),
    (benefits.Refund, benefits_pb2.RefundRedemptionRequest, set()),
    (benefits.PartnerRefund, benefits_pb2.RefundRedemptionRequest, {"pairwise_id"}),
    (benefit_lifecycle.TopUp, benefits_pb2.BenefitChange, set()),
    (benefit_lifecycle.Extension, benefits_pb2.BenefitChange, set()),
    (benefit_lifecycle.StateChange, benefits_pb2.ChangeBenefitStateRequest, set()),
    (reach.StrategyCreate, reach_pb2.StrategySpec, set()),
    (reach.StrategyUpdate, reach_pb2.StrategySpec, {"expected_version"}),
    (reach.PolicyProposalCreate, reach_pb2.DeliveryPolicy, set()),
    (reach.AppEventCreate, app_event_pb2.AppEvent, set()),
    (reach.ContactPreferenceUpdate, reach_pb2.ContactPreference, set()),
    (ReceiptBatch, reach_pb2.RecordReceiptsRequest, set()),
    (registry.AppCreate, identity_pb2.App, set()),
    (registry.PartnerCreate, identity_pb2.Partner, set()),
    (identity_ops.OperatorCreate, identity_pb2.RegisterOperatorRequest, set()),
    (identity_apps.TicketRequest, identity_pb2.IssueRecognitionTicketRequest, set()),
    (identity_apps.RedeemRequest, identity_pb2.RedeemRecognitionTicketRequest, set()),
    (ConsentCreate, identity_pb2.ConsentGrant, set()),
    (identity_apps.ConfirmBinding, identity_pb2.ConfirmPartnerBindingRequest, set()),
    (identity_partner.BindingStart, identity_pb2.StartPartnerBindingRequest, set()),
    (signing_keys.KeyRotation, identity_pb2.RotatePartnerSigningKeyRequest, set()),
    (signing_keys.KeyRotation, identity_pb2.RotateSigningKeyRequest, set()),
    (CoreMilestoneCreate, core_milestone_pb2.CoreMilestoneRecorded, set()),
]


def _parts(annotation: Any) -> tuple[list[type[BaseModel]], list[Any]]:
    """The body models and the literal values anywhere in a field's annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation], []
    if typing.get_origin(annotation) is Literal:
        return [], list(typing.get_args(annotation))
    models: list[type[BaseModel]] = []
    literals: list[Any] = []
    for arg in typing.get_args(annotation):
        more_models, more_literals = _parts(arg)
        models += more_models
        literals += more_literals
    return models, literals


def unmapped(model: type[BaseModel], descriptor: Any, prefix: str = "") -> set[str]:
    """The fields of `model` (nested ones dotted) its message has no field for."""
    missing: set[str] = set()
    for name, info in model.model_fields.items():
        field = descriptor.fields_by_name.get(name)
        if field is None:
            missing.add(prefix + name)
            continue
        models, literals = _parts(info.annotation)
        if field.enum_type is not None:
            for value in literals:
                enum_number(field.enum_type, value)  # raises for a name the enum lacks
        if field.message_type is not None and models:
            missing |= unmapped(models[0], field.message_type, f"{prefix}{name}.")
    return missing


@pytest.mark.parametrize(
    ("model", "message", "elsewhere"),
    CASES,
    ids=[f"{m.__name__}->{p.DESCRIPTOR.name}" for m, p, _ in CASES],
)
def test_body_fields_are_named_as_their_message_fields(
    model: type[BaseModel], message: type[Message], elsewhere: set[str]
) -> None:
    assert unmapped(model, message.DESCRIPTOR) == elsewhere


def test_a_renamed_field_is_caught() -> None:
    class Renamed(BaseModel):
        reason: str
        version_number: int  # RollbackItemRequest calls it `version`

    assert unmapped(Renamed, content_pb2.RollbackItemRequest.DESCRIPTOR) == {"version_number"}


def test_an_enum_value_the_contract_lacks_is_caught() -> None:
    class Draft(BaseModel):
        kind: Literal["fixed_coupon", "cashback"]

    with pytest.raises(ValueError, match="cashback"):
        unmapped(Draft, benefits_pb2.Benefit.DESCRIPTOR)
