"""The operators' half of BenefitsService: catalogue, lifecycle, audit and ledger RPCs."""

from __future__ import annotations

import asyncio

from lattice.benefits.v1 import benefits_pb2 as pb

from services.benefits import audit, catalogue, controls, wallet
from services.benefits.burndown import budget_burndown
from services.benefits.convert import benefit_from_pb
from services.benefits.ledger import check_ledger
from services.benefits.ledger_reports import account_balance, require_head_office
from services.benefits.principals import Principal
from services.runtime.clock import from_timestamp, to_timestamp
from services.runtime.paging import page_size
from services.runtime.proto_mapping import from_proto, to_proto
from services.runtime.service import ServiceContext
from services.runtime.sorting import start_of

MAX_PAGE = 100


class CatalogueRpcs:
    _ctx: ServiceContext

    async def CreateBenefit(self, request: pb.CreateBenefitRequest, context) -> pb.CreateBenefitResponse:
        created = await asyncio.to_thread(
            catalogue.create_benefit,
            engine=self._ctx.engine,
            benefit=benefit_from_pb(request.benefit),
            by=from_proto(Principal, request.principal),
        )
        return pb.CreateBenefitResponse(benefit=to_proto(pb.Benefit, created))  # a draft: no budget yet

    async def ReviewBenefit(self, request: pb.ReviewBenefitRequest, context) -> pb.ReviewBenefitResponse:
        benefit = await asyncio.to_thread(
            catalogue.review_benefit,
            engine=self._ctx.engine,
            benefit_id=request.benefit_id,
            by=from_proto(Principal, request.principal),
            approve=request.approve,
            note=request.note[:500],
        )
        left = benefit.total_budget if request.approve else 0  # approval funds the whole budget
        return pb.ReviewBenefitResponse(benefit=to_proto(pb.Benefit, benefit, budget_remaining=left))

    async def GetBenefit(self, request: pb.GetBenefitRequest, context) -> pb.GetBenefitResponse:
        benefit, left = await asyncio.to_thread(
            catalogue.get_benefit,
            engine=self._ctx.engine,
            benefit_id=request.benefit_id,
            by=from_proto(Principal, request.principal),
        )
        return pb.GetBenefitResponse(benefit=to_proto(pb.Benefit, benefit, budget_remaining=left))

    async def ListBenefits(self, request: pb.ListBenefitsRequest, context) -> pb.ListBenefitsResponse:
        if request.count_only:
            total = await asyncio.to_thread(
                catalogue.count_benefits,
                engine=self._ctx.engine,
                by=from_proto(Principal, request.principal),
                status=request.status,
                branch=request.branch,
            )
            return pb.ListBenefitsResponse(total=total)
        size = min(request.page_size or 50, MAX_PAGE)
        rows = await asyncio.to_thread(
            catalogue.list_benefits,
            engine=self._ctx.engine,
            by=from_proto(Principal, request.principal),
            status=request.status,
            branch=request.branch,
            limit=size + 1,
            after=request.page_token,
            sort=request.sort,
            start=start_of(request.after_time, request.after_id),
        )
        token = catalogue.BENEFIT_ORDER.next_token(rows, size, sort=request.sort)
        return pb.ListBenefitsResponse(
            benefits=[to_proto(pb.Benefit, b, budget_remaining=left) for b, left in rows[:size]],
            next_page_token=token,
        )

    async def RevokeGrant(self, request: pb.RevokeGrantRequest, context) -> pb.RevokeGrantResponse:
        grant = await asyncio.to_thread(
            wallet.revoke_grant,
            engine=self._ctx.engine,
            grant_id=request.grant_id,
            by=from_proto(Principal, request.principal),
            idempotency_key=request.idempotency_key,
        )
        return pb.RevokeGrantResponse(grant=to_proto(pb.Grant, grant))

    async def ChangeBenefitState(
        self, request: pb.ChangeBenefitStateRequest, context
    ) -> pb.ChangeBenefitStateResponse:
        benefit, left = await asyncio.to_thread(
            controls.change_state,
            engine=self._ctx.engine,
            benefit_id=request.benefit_id,
            action=request.action,
            reason=request.reason,
            by=from_proto(Principal, request.principal),
        )
        return pb.ChangeBenefitStateResponse(benefit=to_proto(pb.Benefit, benefit, budget_remaining=left))

    async def RequestBenefitChange(
        self, request: pb.RequestBenefitChangeRequest, context
    ) -> pb.RequestBenefitChangeResponse:
        c = request.change
        change = await asyncio.to_thread(
            controls.request_change,
            engine=self._ctx.engine,
            benefit_id=c.benefit_id,
            kind=c.kind,
            by=from_proto(Principal, request.principal),
            reason=c.reason,
            total_budget_increase=c.total_budget_increase,
            daily_budget=c.daily_budget,
            valid_until=from_timestamp(c.valid_until),
        )
        return pb.RequestBenefitChangeResponse(change=to_proto(pb.BenefitChange, change))

    async def ReviewBenefitChange(
        self, request: pb.ReviewBenefitChangeRequest, context
    ) -> pb.ReviewBenefitChangeResponse:
        change, benefit, left = await asyncio.to_thread(
            controls.review_change,
            engine=self._ctx.engine,
            benefit_id=request.benefit_id,
            change_id=request.change_id,
            approve=request.approve,
            note=request.note,
            by=from_proto(Principal, request.principal),
        )
        return pb.ReviewBenefitChangeResponse(
            change=to_proto(pb.BenefitChange, change),
            benefit=to_proto(pb.Benefit, benefit, budget_remaining=left),
        )

    async def ListBenefitChanges(
        self, request: pb.ListBenefitChangesRequest, context
    ) -> pb.ListBenefitChangesResponse:
        if request.count_only:
            total = await asyncio.to_thread(
                controls.count_changes,
                engine=self._ctx.engine,
                benefit_id=request.benefit_id,
                status=request.status,
                by=from_proto(Principal, request.principal),
            )
            return pb.ListBenefitChangesResponse(total=total)
        changes, token = await asyncio.to_thread(
            controls.list_changes,
            engine=self._ctx.engine,
            benefit_id=request.benefit_id,
            status=request.status,
            by=from_proto(Principal, request.principal),
            size=page_size(request.page_size),
            token=request.page_token,
            sort=request.sort,
            start=start_of(request.after_time, request.after_id),
        )
        owners = []
        if request.with_benefits and changes:
            owners = await asyncio.to_thread(
                catalogue.benefits_of,
                engine=self._ctx.engine,
                by=from_proto(Principal, request.principal),
                benefit_ids={c.benefit_id for c in changes},
            )
        return pb.ListBenefitChangesResponse(
            changes=[to_proto(pb.BenefitChange, c) for c in changes],
            next_page_token=token,
            benefits=[to_proto(pb.Benefit, b, budget_remaining=left) for b, left in owners],
        )

    async def GetBenefitAudit(
        self, request: pb.GetBenefitAuditRequest, context
    ) -> pb.GetBenefitAuditResponse:
        records, token = await asyncio.to_thread(
            audit.benefit_audit,
            engine=self._ctx.engine,
            benefit_id=request.benefit_id,
            by=from_proto(Principal, request.principal),
            size=page_size(request.page_size),
            token=request.page_token,
        )
        return pb.GetBenefitAuditResponse(
            records=[to_proto(pb.AuditRecord, r) for r in records], next_page_token=token
        )

    async def GetBudgetBurndown(
        self, request: pb.GetBudgetBurndownRequest, context
    ) -> pb.GetBudgetBurndownResponse:
        benefit, days = await asyncio.to_thread(
            budget_burndown,
            engine=self._ctx.engine,
            benefit_id=request.benefit_id,
            by=from_proto(Principal, request.principal),
            from_day=request.from_day,
            to_day=request.to_day,
        )
        return to_proto(
            pb.GetBudgetBurndownResponse,
            benefit,
            days=[to_proto(pb.BurndownDay, d, day=d.day.isoformat()) for d in days],  # days cross as ISO text
        )

    async def GetAccountBalance(
        self, request: pb.GetAccountBalanceRequest, context
    ) -> pb.GetAccountBalanceResponse:
        balance, as_of = await asyncio.to_thread(
            account_balance,
            engine=self._ctx.engine,
            account_id=request.account_id,
            as_of=from_timestamp(request.as_of),
            by=from_proto(Principal, request.principal),
        )
        return pb.GetAccountBalanceResponse(
            account_id=request.account_id, balance=balance, as_of=to_timestamp(as_of)
        )

    async def CheckLedger(self, request: pb.CheckLedgerRequest, context) -> pb.CheckLedgerResponse:
        require_head_office(from_proto(Principal, request.principal))
        report = await asyncio.to_thread(
            check_ledger, engine=self._ctx.engine, as_of=from_timestamp(request.as_of)
        )
        return to_proto(
            pb.CheckLedgerResponse,
            report,
            mismatches=[  # the report keeps each as an (account, stored, from postings) triple
                pb.AccountMismatch(account_id=a, stored=s, from_postings=d) for a, s, d in report.mismatches
            ],
        )
