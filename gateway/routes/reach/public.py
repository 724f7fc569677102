"""Response bodies of the reach routes: fields named as in reach's protobuf messages, filled by
services.runtime.proto_mapping (a time never set is null, never 1970-01-01)."""

from __future__ import annotations

from datetime import datetime

from lattice.reach.v1 import reach_pb2 as pb
from pydantic import BaseModel, Field

from gateway.paging import Page
from services.runtime.proto_mapping import from_proto


class PredicatePublic(BaseModel):
    field: str
    op: str
    values: list[str]


class TouchpointPublic(BaseModel):
    channel: str
    app_id: str
    partner_id: str


class MessageContentPublic(BaseModel):
    content_item_id: str
    title: str
    body: str
    variables: dict[str, str]
    locale: str


class TriggerPublic(BaseModel):
    event_type: str
    predicates: list[PredicatePublic]
    delay_s: int


class StrategySchedulePublic(BaseModel):
    start_at: datetime | None
    every_s: int


class StrategySpecPublic(BaseModel):
    """4W1Do: who (segment, control share), where (touchpoints), what (content), when, do."""

    name: str
    kind: str
    purpose: str
    segment: list[PredicatePublic]
    control_share_bp: int
    touchpoints: list[TouchpointPublic]
    content: MessageContentPublic | None
    deep_link: str
    trigger: TriggerPublic | None = Field(description="null for a scheduled strategy")
    schedule: StrategySchedulePublic | None = Field(description="null for a triggered strategy")
    benefit_id: str
    validity_s: int
    goal_event_type: str
    conversion_window_s: int
    min_interval_s: int


class StrategyPublic(BaseModel):
    strategy_id: str
    spec: StrategySpecPublic | None
    status: str
    branch: str
    created_by: str
    approved_by: str
    created_at: datetime | None
    updated_at: datetime | None
    version: int
    revision: int
    edited_by: list[str]


class StrategyPage(Page[StrategyPublic]):
    """One page of strategies, by id or the asked sort."""


class StrategyRevisionPublic(BaseModel):
    revision: int
    spec: StrategySpecPublic | None
    authored_by: str
    edited_by: list[str]
    approved_by: str
    approved_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    rejected_by: str
    rejected_at: datetime | None
    rejection_reason: str


class StrategyRevisions(BaseModel):
    items: list[StrategyRevisionPublic]


class TouchpointCountPublic(BaseModel):
    channel: str
    customers: int


class DryRunPublic(BaseModel):
    audience: int = Field(description="customers matching the segment")
    control: int = Field(description="held out")
    touchpoints: list[TouchpointCountPublic]
    unreachable: int = Field(description="no touchpoint with consent")


class ReasonCountPublic(BaseModel):
    reason: str
    count: int


class GroupOutcomePublic(BaseModel):
    customers: int
    converted: int
    conversion_rate: float


class StrategyReviewPublic(BaseModel):
    audience: int
    sent: int
    delivered: int
    opened: int
    held: int
    suppressed: list[ReasonCountPublic]
    treatment: GroupOutcomePublic | None
    control: GroupOutcomePublic | None
    uplift: float | None = Field(description="treatment rate - control rate; null when not measurable")
    measurable: bool
    uplift_ci_low: float | None = Field(description="95% interval of the uplift; null when not measurable")
    uplift_ci_high: float | None


def review_public(resp: pb.GetStrategyReviewResponse) -> StrategyReviewPublic:
    # without customers in both groups the uplift and its interval are not measured: null, not 0
    # (a measured uplift of 0 stays 0)
    measured = resp.measurable
    return from_proto(
        StrategyReviewPublic,
        resp,
        uplift=resp.uplift if measured else None,
        uplift_ci_low=resp.uplift_ci_low if measured else None,
        uplift_ci_high=resp.uplift_ci_high if measured else None,
    )


class DeliveryPublic(BaseModel):
    delivery_id: str
    strategy_id: str
    channel: str
    status: str
    reason: str
    control: bool
    created_at: datetime | None
    not_before: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    action_state: str


class DeliveryPage(Page[DeliveryPublic]):
    """One page of a strategy's deliveries, newest first."""


class ChannelRulePublic(BaseModel):
    channel: str
    daily_cap: int
    rate_per_second: int


class DeliveryPolicyPublic(BaseModel):
    channels: list[ChannelRulePublic]
    daily_contact_budget: int
    quiet_start: str
    quiet_end: str
    quiet_channels: list[str]
    default_time_zone: str


class PolicyProposalPublic(BaseModel):
    proposal_id: str
    policy: DeliveryPolicyPublic | None
    proposed_by: str
    status: str
    decided_by: str
    created_at: datetime | None
    decided_at: datetime | None


class PolicyInForcePublic(DeliveryPolicyPublic):
    pending_proposal: PolicyProposalPublic | None = Field(description="the change waiting for approval")


def policy_public(resp: pb.GetDeliveryPolicyResponse) -> PolicyInForcePublic:
    # over HTTP the policy in force and the change waiting for approval are one object
    pending = from_proto(PolicyProposalPublic, resp.pending) if resp.HasField("pending") else None
    return from_proto(PolicyInForcePublic, resp.policy, pending_proposal=pending)


class InboxMessagePublic(BaseModel):
    message_id: str
    app_id: str
    title: str
    body: str
    deep_link: str
    created_at: datetime | None
    read_at: datetime | None
    expires_at: datetime | None


class InboxPage(Page[InboxMessagePublic]):
    """One page of the customer's inbox, newest first, with the unread count."""

    unread: int


class ContactPreferencePublic(BaseModel):
    channel: str
    purpose: str = Field(description='"all" or a consent purpose')
    opted_in: bool
    updated_at: datetime | None


class ContactPreferences(BaseModel):
    items: list[ContactPreferencePublic]
