"""Exports: CRM-ready customer lists for every run.

`customers.csv` has one row per customer (ID, persona, cluster, one 0/1 column per customer
flag, key metrics, the last campaign's answer `responded`, the predictions),
`persona_<name>.csv` the same columns for each persona's customers and
`<flag>.csv` (e.g. `churn_risk.csv`) each flag's customers ranked as the brief's call list,
and `next_campaign.csv` the tenth of customers likeliest to answer (by `p_response`). A week
with a lifetime model adds `p_alive`, `purchases_90d` and `clv_12m` to every customer row.
Every file ends with `run_id` and `as_of`, so a list loaded into a CRM says where it came
from; numbers are written in their shortest exact form (58138, not 58138.0). Files are
written in chunks, so a large table never needs a second full copy as text.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from reporter.csvcells import neutralise_table, neutralise_text
from reporter.data.features import FeatureTable
from reporter.personas.control import (
    NEXT_CAMPAIGN_LIST,
    ControlGroups,
    control_column,
    group_columns,
    list_key,
)
from reporter.personas.csvrows import CsvRows, formattable
from reporter.personas.rulebook import PersonaAssignment
from reporter.progress import advance

CSV_OPTIONS = pacsv.WriteOptions(quoting_style="needed")
STAMP_COLUMNS = ("run_id", "as_of")  # the last columns of every exported file
EXPORT_METRICS = ("income", "total_spending", "total_purchases", "recency", "age", "tenure_days",
                  "deal_share", "web_visits", "r_score", "f_score", "m_score")
# when the week has a lifetime model: each to the digits a reader can use (shorter files)
LIFETIME_COLUMNS = {"p_alive": 4, "purchases_90d": 3, "clv_12m": 2}


def flag_column(name: str) -> str:
    """'Churn Risk' -> 'flag_churn_risk': a column name every CRM import accepts."""
    return "flag_" + list_key(name)


def persona_file(name: str) -> str:
    return "persona_" + list_key(name) + ".csv"


def flag_file(name: str) -> str:
    """'Churn Risk' -> 'churn_risk.csv': every customer the flag holds, in call-list order."""
    return flag_column(name).removeprefix("flag_") + ".csv"


def flag_list(customers: pd.DataFrame, name: str, ranking: pd.Series) -> pd.DataFrame:
    """A flag's customers to contact (its control group left out), highest `ranking` first
    (ties by ID), in the customers.csv layout."""
    return customers.iloc[flag_rows(customers, name, ranking)]


def flag_rows(customers: pd.DataFrame, name: str, ranking: pd.Series) -> np.ndarray:
    """flag_list's rows as positions in `customers`, in call-list order."""
    rows = np.flatnonzero(customers[flag_column(name)].to_numpy().astype(bool)
                          & _contacted(customers, name))
    order = pd.DataFrame({"rank": ranking.to_numpy()[rows], "ID": customers["ID"].to_numpy()[rows]}
                         ).sort_values(["rank", "ID"], ascending=[False, True])
    return rows[order.index.to_numpy()]


def _contacted(customers: pd.DataFrame, name: str) -> np.ndarray:
    """True for the customers a list's control column does not hold back (as `contacted`)."""
    column = control_column(name)
    if column not in customers:
        return np.ones(len(customers), dtype=bool)
    return (customers[column] == 0).to_numpy()


NEXT_CAMPAIGN_FILE = "next_campaign.csv"
NEXT_CAMPAIGN_SHARE = 0.10  # the next campaign's list: the customers likeliest to answer


def list_file(name: str) -> str:
    """A call list's file: a flag's (churn_risk.csv), or next_campaign.csv."""
    return NEXT_CAMPAIGN_FILE if name == NEXT_CAMPAIGN_LIST else flag_file(name)


def next_campaign_size(customers: int, share: float = NEXT_CAMPAIGN_SHARE) -> int:
    return max(1, round(customers * share)) if customers else 0


def next_campaign_list(customers: pd.DataFrame, size: int) -> pd.DataFrame:
    """Of the `size` customers with the highest p_response (ties by ID), those to contact (the
    list's control group left out), in the customers.csv layout: who the next campaign should
    reach first."""
    return customers.iloc[next_campaign_rows(customers, size)]


def next_campaign_rows(customers: pd.DataFrame, size: int) -> np.ndarray:
    """next_campaign_list's rows as positions in `customers`, in list order."""
    order = np.lexsort((customers["ID"].to_numpy(), -customers["p_response"].to_numpy()))[:size]
    return order[_contacted(customers, NEXT_CAMPAIGN_LIST)[order]]


def next_campaign_members(ids: np.ndarray, p_response: np.ndarray, size: int) -> np.ndarray:
    """True for the customers next_campaign_list takes, before its control group is held back."""
    members = np.zeros(len(ids), dtype=bool)
    if size <= 0:
        return members
    if size >= len(ids):
        return ~members
    edge = np.partition(p_response, len(ids) - size)[len(ids) - size]  # the size-th highest
    members = p_response > edge  # in linear time: a full sort of a million takes seconds
    tied = np.flatnonzero(p_response == edge)
    members[tied[np.argsort(ids[tied], kind="stable")[:size - int(members.sum())]]] = True
    return members


def customer_table(table: FeatureTable, labels: np.ndarray, assignment: PersonaAssignment,
                   p_response: np.ndarray | None = None,
                   groups: ControlGroups | None = None) -> pd.DataFrame:
    """customers.csv: one row per customer, its flags, metrics, predictions and, with `groups`,
    one control_<list> column per call list (1: held back from that list)."""
    predicted = {"p_response": p_response} if p_response is not None else {}
    columns = customer_columns(table.frame, labels, assignment, predicted)
    if groups is not None:
        columns.update(group_columns(groups))
    return pd.DataFrame(columns)


def customer_columns(features, labels: np.ndarray, assignment: PersonaAssignment,
                     predicted: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """customers.csv's columns, from a feature table's columns (a frame, or arrays by name on
    the array path) and the predictions (p_response, the chance of answering the next
    campaign, ...; predict/)."""
    rows = len(labels)
    columns = {
        "ID": np.asarray(features["ID"]),
        "other_ids": np.asarray(features["other_ids"]),  # the same person's other IDs
        "persona": assignment.customer_persona,
        "cluster": labels,
    }
    for name, flagged in assignment.flags.items():
        columns[flag_column(name)] = np.broadcast_to(flagged, (rows,)).astype(np.int8)
    for metric in EXPORT_METRICS:
        columns[metric] = np.asarray(features[metric]).round(4)
    if "responded" in features:  # the last campaign's answer, so a later run can tell a new one
        columns["responded"] = np.asarray(features["responded"]).astype(np.int8)
    for name, values in predicted.items():
        columns[name] = values.round(6)
    for column, digits in LIFETIME_COLUMNS.items():  # alive probability and value (predict/lifetime.py)
        if column in features:
            columns[column] = np.asarray(features[column]).round(digits)
    return columns


def write_exports(customers: pd.DataFrame, path_for, chunk_rows: int, parquet: bool,
                  stamp: tuple[tuple[str, str], ...] = (), rows: CsvRows | None = None,
                  beside: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """Write customers.csv, persona_<name>.csv files and optionally Parquet; return file names.
    `rows`: the customers' CSV lines when the caller made them for its own files too; `beside`:
    the caller's files of every customer, (name, layout of `rows`), written in the same pass."""
    written = ["customers.csv"]
    if rows is None and formattable(customers):
        rows = CsvRows(customers, stamp, chunk_rows=chunk_rows)
    personas = [(persona_file(str(persona)), members) for persona, members
                in customers.groupby("persona", sort=True).indices.items()]
    if rows is None:
        write_csv(customers, path_for("customers.csv"), chunk_rows, stamp)
        for name, members in personas:
            write_csv(customers.iloc[members], path_for(name), chunk_rows, stamp)
    else:
        rows.write_in_order([(path_for(name), layout, None) for name, layout in beside]
                            + [(path_for("customers.csv"), "all", None)]
                            + [(path_for(name), "all", members) for name, members in personas])
    written += [name for name, _ in personas]
    if parquet:
        customers.assign(**dict(stamp)).to_parquet(path_for("customers.parquet"), index=False)
        written.append("customers.parquet")
    return written


def write_csv(frame: pd.DataFrame, path: Path | BinaryIO, chunk_rows: int = 100_000,
              stamp: tuple[tuple[str, str], ...] = ()) -> None:
    """UTF-8 CSV with a header, by Arrow's writer (about 8x faster than pandas' on a million
    rows), `chunk_rows` rows at a time so only one chunk is ever converted. Text values are
    quoted, and neutralised where a spreadsheet would run them as a formula (csvcells); numbers
    are written in their shortest exact form. `stamp` adds constant columns
    (run_id, as_of) chunk by chunk, never as a column of the whole table."""
    chunks = range(0, max(len(frame), 1), chunk_rows)
    writer, schema = None, None
    try:
        for done, start in enumerate(chunks, start=1):
            table = pa.Table.from_pandas(frame.iloc[start:start + chunk_rows], preserve_index=False)
            table = neutralise_table(table)
            for column, value in stamp:
                table = table.append_column(column, pa.array([neutralise_text(value)] * table.num_rows,
                                                             pa.string()))
            if writer is None:
                schema = table.schema
                writer = pacsv.CSVWriter(path, schema, write_options=CSV_OPTIONS)
            writer.write_table(table.cast(schema))
            advance(done, len(chunks))
    finally:
        if writer is not None:
            writer.close()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A frame as the CSV a user downloads: the archive's writer, so the same neutralising."""
    buffer = io.BytesIO()
    write_csv(frame, buffer)
    return buffer.getvalue()
