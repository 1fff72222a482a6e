"""run.json: the versioned record of a run (format documented in the README).

Everything a run read, decided and produced, so other tools can read the archive and a brief
can be explained without recomputing it. Fields are only added within a format version.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reporter import __version__
from reporter.brief.view import Brief
from reporter.config import Config
from reporter.history.weekly import FORMAT_VERSION, WeekOverWeek, source_key
from reporter.segmentation.segment import Segmentation
from reporter.versions import package_versions

if TYPE_CHECKING:
    from reporter.app.pipeline import Analysis


def run_record(config: Config, found: Analysis, brief: Brief, run_id: str, now: datetime,
               timings: dict[str, float]) -> dict[str, Any]:
    """run.json: what was read, with which settings, what came out, how long it took."""
    raw, customers, segmentation = found.raw, found.customers, found.segmentation
    return {
        "format_version": FORMAT_VERSION,
        "run_id": run_id,
        "started_at": now.isoformat(timespec="seconds"),
        "reporter_version": __version__,
        "data": {
            "path": str(raw.path.resolve()),
            "source_key": source_key(raw),
            "sha256": raw.sha256,
            "modified": raw.modified.isoformat(timespec="seconds"),
            "rows_read": raw.rows_read,
            "date_format": raw.date_format,
            "extra_columns": list(raw.extra_columns),
        },
        "as_of": customers.as_of.isoformat(),
        "config": {
            "path": str(config.path),
            "personas_path": str(config.personas_path),
            "sha256": config.fingerprint(),
        },
        "data_notes": {
            "rows_read": customers.notes.rows_read,
            "rows_kept": customers.notes.rows_kept,
            "rows_in_fit": customers.notes.rows_in_fit,
            "notes": [vars(n) for n in customers.notes.notes],
        },
        "model": model_record(found),
        "algorithm": segmentation.algorithm,
        "k": segmentation.k,
        "silhouette": round(segmentation.silhouette.mean, 4),
        "k_selection": _k_selection_record(segmentation),
        "stability": _plain(found.assessment.stability),
        "comparison": [_plain(score) for score in found.assessment.engines],
        "pca": [{"component": c.number, "explained": round(c.explained, 4),
                 "loadings": dict(c.loadings)} for c in segmentation.components],
        "personas": {
            row.name: {"customers": row.size, "share": round(row.share, 4),
                       "spend_share": round(row.spend_share, 4), "clusters": list(row.clusters),
                       "color": row.color}
            for row in brief.personas
        },
        "personas_absent": list(brief.absent_personas),
        "flags": {flag.name: {"customers": flag.count, "share": round(flag.share, 4),
                              "by_persona": dict(flag.by_persona)} for flag in brief.flags},
        "headlines": list(brief.headlines),
        "timings_seconds": timings,
        "versions": package_versions(),
    }


def model_record(found: Analysis) -> dict[str, Any]:
    decision = found.decision
    return {
        "action": decision.action,
        "reason": decision.reason,
        "sentence": decision.sentence,
        "fitted_on": decision.fitted_on.isoformat(),
        "fitted_in_run": decision.fitted_in_run,
        "warm_started": decision.warm_started,
        "drift": ({row.name: {"psi": round(row.psi, 4), "verdict": row.verdict}
                   for row in decision.drift.rows} if decision.drift else None),
        "alignment": ({"kept": [{"old": old, "new": new, "share_kept": round(share, 4)}
                                for old, new, share in decision.alignment.kept],
                       "new": list(decision.alignment.new),
                       "dissolved": list(decision.alignment.dissolved)}
                      if decision.alignment else None),
        "rule_changes": list(decision.rule_changes),
        "files": ["model.json"],
    }


def _k_selection_record(segmentation: Segmentation) -> dict[str, Any]:
    choice = segmentation.k_choice
    return {
        "chosen_k": choice.chosen_k,
        "elbow_k": choice.elbow_k,
        "best_silhouette_k": choice.best_silhouette_k,
        "reason": choice.reason,
        "rows_searched": choice.rows_searched,
        "rows_total": choice.rows_total,
        "diagnostics": [_plain(d) for d in choice.diagnostics],
    }


def _plain(value: Any) -> Any:
    """Dataclasses to JSON-ready dicts with floats rounded for reading."""
    if value is None:
        return None
    document = asdict(value)
    return json.loads(json.dumps(document, default=float), parse_float=lambda v: round(float(v), 4))


def change_record(change: WeekOverWeek | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {
        "previous_run_id": change.previous_run_id,
        "previous_as_of": change.previous_as_of,
        "new_customers": change.new_customers,
        "gone_customers": change.gone_customers,
        "slipped": change.slipped_count,
        "transitions": change.matrix,
    }
