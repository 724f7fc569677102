"""Business metrics: the numbers behind the dashboard, read from a service's own database when the
meter collects them, so every replica reports the same truth (dashboards take `max` across them)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry import metrics
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.runtime.db import read_session

logger = logging.getLogger(__name__)

Rows = Iterable[tuple[int, dict[str, str]]]


@dataclass(frozen=True)
class Measure:
    """One business metric: its name, whether it only grows, and the query giving its values."""

    name: str
    description: str
    query: Callable[[Session], Rows]
    monotonic: bool = False


def register(*, engine: Engine, measures: list[Measure], meter: metrics.Meter | None = None) -> None:
    """Observe each measure from the database at every collection."""
    meter = meter or metrics.get_meter("lattice.business")
    for measure in measures:
        create = meter.create_observable_counter if measure.monotonic else meter.create_observable_gauge
        create(measure.name, callbacks=[_callback(engine, measure)], description=measure.description)


def register_service(name: str, *, engine: Engine) -> None:
    """The measures of `services.<name>.business_metrics`, when the service has any."""
    try:
        module = importlib.import_module(f"services.{name}.business_metrics")
    except ModuleNotFoundError:
        return
    register(engine=engine, measures=module.MEASURES)


def _callback(engine: Engine, measure: Measure):  # type: ignore[no-untyped-def]  # OpenTelemetry's observable callback options type is private
    def observe(_options):  # type: ignore[no-untyped-def]  # OpenTelemetry's observable callback options type is private
        try:
            with read_session(engine) as session:
                rows = list(measure.query(session))
        except Exception:  # a busy or unavailable database costs one sample, never the exporter
            logger.warning("business metric %s not collected", measure.name, exc_info=True)
            return []
        return [metrics.Observation(value, attributes) for value, attributes in rows]

    return observe
