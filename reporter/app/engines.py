"""Engines: where a run's customers are held once they are analysed. The pipeline asks the
same three things of either engine: the week-over-week change, the brief's customer figures
and the export files. `engine: local` holds them in pandas (here); `engine: spark` in a Spark
table (spark/run.py), so the pipeline never needs every customer on one machine.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from reporter.archive import RunFolder
from reporter.history.grading import GRADING_FILE, write_grading_columns
from reporter.history.weekly import (
    WeekOverWeek,
    compare,
    compared_column,
    previous_rows,
    read_previous,
)
from reporter.model.lifecycle import Analysis
from reporter.personas.control import (
    CONTROL_FILE,
    NEXT_CAMPAIGN_LIST,
    ControlGroups,
    ControlParams,
    control_file,
    control_groups,
    control_rows,
)
from reporter.personas.csvrows import CsvRows, formattable
from reporter.personas.exports import (
    NEXT_CAMPAIGN_FILE,
    customer_table,
    flag_file,
    flag_rows,
    next_campaign_members,
    next_campaign_rows,
    next_campaign_size,
    write_csv,
    write_exports,
)
from reporter.personas.figures import CustomerFigures, ListParams, customer_figures


class Engine(Protocol):
    analysis: Analysis
    sentence: str  # for the brief's method: which engine, on how many customers it fitted
    # (IDs, personas) of analysis.propensity's customers when they are not analysis.table's
    propensity_customers: tuple | None

    def change(self, previous_customers: Path, previous: tuple[str, str], valuable: tuple[str, ...],
               slipped_to: tuple[str, ...]) -> WeekOverWeek: ...

    def figures(self, change: WeekOverWeek | None, params: ListParams) -> CustomerFigures: ...

    def write(self, folder: RunFolder, stamp: tuple[tuple[str, str], ...], chunk_rows: int,
              parquet: bool) -> list[str]: ...


class LocalEngine:
    """Every customer in this process's memory."""

    sentence = ""  # the method already says it: fitted on the customers, every customer assigned
    propensity_customers = None  # the table's: every customer is in memory

    def __init__(self, analysis: Analysis, control: ControlParams | None = None):
        self.analysis = analysis
        self.control = control if control is not None else ControlParams(share=0.0)

    @cached_property
    def groups(self) -> ControlGroups | None:
        """Each call list's control group: the flags, and next_campaign.csv when it is written;
        None when control groups are switched off (control_groups.share 0, no flag's own)."""
        found = self.analysis
        if self.control.off:
            return None
        ids = found.table.frame["ID"].to_numpy()
        lists = dict(found.assignment.flags)
        if found.propensity is not None and found.propensity.p_response is not None:
            lists[NEXT_CAMPAIGN_LIST] = next_campaign_members(
                ids, found.propensity.p_response, next_campaign_size(len(ids)))
        return control_groups(ids, lists, self.control, found.table.as_of)

    @cached_property
    def customers(self) -> pd.DataFrame:
        """The customers.csv layout, made once for the comparison and the exports."""
        found = self.analysis
        propensity = found.propensity
        return customer_table(found.table, found.segmentation.labels, found.assignment,
                              propensity.p_response if propensity is not None else None, self.groups)

    def change(self, previous_customers: Path, previous: tuple[str, str], valuable: tuple[str, ...],
               slipped_to: tuple[str, ...]) -> WeekOverWeek:
        before = read_previous(previous_customers, compared_column)
        rulebook, decision = self.analysis.rulebook, self.analysis.decision
        change = compare(before, self.customers, previous, [p.name for p in rulebook.personas],
                         [f.name for f in rulebook.flags], valuable, slipped_to, decision.renamed,
                         decision.successors)
        followed = {**decision.renamed, **decision.successors}
        return replace(change, gone=previous_rows(previous_customers, change.gone["ID"], followed))

    def figures(self, change: WeekOverWeek | None, params: ListParams) -> CustomerFigures:
        found = self.analysis
        new_ids = ({name: set(frame["ID"].astype(int)) for name, frame in change.newly_flagged.items()}
                   if change is not None else {})
        return customer_figures(found.table, found.assignment, found.segmentation.pca_coordinates,
                                found.rulebook, new_ids, params,
                                self.groups.held if self.groups is not None else None)

    def write(self, folder: RunFolder, stamp: tuple[tuple[str, str], ...], chunk_rows: int,
              parquet: bool) -> list[str]:
        """Every customer file of the week, cut from the customers' CSV lines formatted chunk
        by chunk (segments.csv in the pass of customers.csv and the persona files; Arrow's
        writer, file by file, for a column kind the lines do not format)."""
        customers, found = self.customers, self.analysis
        segment_columns = ["ID", "cluster", "persona", *[c for c in customers if c.startswith("flag_")]]
        lines = (CsvRows(customers, stamp, {"segments": segment_columns}, chunk_rows)
                 if formattable(customers) else None)

        def put(name: str, rows: np.ndarray | None = None, columns: list[str] | None = None) -> str:
            if lines is not None:
                lines.write(folder.file(name), rows, "segments" if columns else "all")
            else:
                frame = customers if rows is None else customers.iloc[rows]
                write_csv(frame[columns] if columns else frame, folder.file(name), chunk_rows, stamp)
            return name

        if lines is None:
            put("segments.csv", columns=segment_columns)
        exports = write_exports(customers, folder.file, chunk_rows, parquet, stamp, lines,
                                beside=(("segments.csv", "segments"),) if lines else ())
        write_grading_columns(customers, folder.file(GRADING_FILE))
        exports.append(GRADING_FILE)
        for flag in found.rulebook.flags:
            ranking = found.table.frame[flag.spec.rank_by]
            exports.append(put(flag_file(flag.name), flag_rows(customers, flag.name, ranking)))
        if "p_response" in customers:
            exports.append(put(NEXT_CAMPAIGN_FILE,
                               next_campaign_rows(customers, next_campaign_size(len(customers)))))
        if self.groups is not None:
            held = tuple(self.groups.held)
            if lines is not None:
                lines.write_groups(folder.file(CONTROL_FILE), control_rows(customers, held))
            else:
                write_csv(control_file(customers, held), folder.file(CONTROL_FILE), chunk_rows, stamp)
            exports.append(CONTROL_FILE)
        return exports
