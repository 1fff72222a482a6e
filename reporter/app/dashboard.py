"""The app for marketing (`reporter app`): Streamlit pages over one source's archive.

This week · Personas · Customer lookup · Predictions graded · Rule workshop · Archive. Every figure comes from
reporter.app.explore (the run records and files the brief was made from), with the brief's
persona names and colours. Read-only unless started with --allow-edit (saving rules,
releasing a held brief). `reporter app` starts it; the config path and the edit switch come
in the environment (REPORTER_APP_CONFIG, REPORTER_APP_ALLOW_EDIT).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from reporter.app import explore
from reporter.app.archived import Replayable, replayable
from reporter.app.settings import Config, load_config
from reporter.brief.charts import MIX_PALETTE
from reporter.brief.followup import followup_view, graded_table
from reporter.brief.rule_edits import rule_edit_lines
from reporter.errors import ReporterError
from reporter.history.catalogue import read_run, sent_since
from reporter.personas.exports import csv_bytes

PAGES = ("This week", "Personas", "Customer lookup", "Predictions graded", "Rule workshop", "Archive")


@st.cache_resource(show_spinner=False, max_entries=4)
def customers_of(folder: str) -> pd.DataFrame:
    """A run's customers, read once per run (runs never change once published); shared, not
    copied, as no page changes it (a copy of a million rows per page view costs seconds)."""
    return explore.customers(read_run(Path(folder)))


@st.cache_resource(show_spinner=False, max_entries=16)
def segments_of(folder: Path) -> pd.DataFrame:
    return explore.segments(folder)


@st.cache_resource(show_spinner=False, max_entries=16)
def aliases_of(folder: Path) -> dict[int, int]:
    return explore.aliases(folder)


@st.cache_resource(show_spinner=False, max_entries=2, hash_funcs={Config: lambda c: str(c.path)})
def replayable_of(config: Config, folder: Path) -> Replayable:
    """The latest run's customers ready for other rules: made once, replayed at every keystroke."""
    return replayable(config, read_run(folder))


@st.cache_resource(show_spinner=False, max_entries=2, hash_funcs={Config: lambda c: str(c.path)})
def warm_up(config: Config, folder: Path) -> threading.Thread:
    """Once per run: its customers read and prepared for replays in the background while the
    first page is read, so the first Personas or workshop view need not wait for them (a page
    that asks meanwhile waits for the same computation; it is never done twice)."""
    def prepare() -> None:
        customers_of(str(folder))
        replayable_of(config, folder)

    thread = threading.Thread(target=prepare, name="reporter-app-warm-up", daemon=True)
    thread.start()
    return thread


def colours(run) -> alt.Scale:
    table = explore.persona_table(run)
    return alt.Scale(domain=list(table["persona"]), range=list(table["color"]))


def this_week(config, runs, latest) -> None:
    """The source's newest brief whatever its state (a held one says so, and how to release
    it), with the brief's own figures, labels and units (brief.json)."""
    record = latest.record
    st.header(f"This week: customers as of {pd.Timestamp(latest.as_of):%-d %b %Y}")  # as the brief
    if record.held:
        st.error(explore.held_note(latest, config.path))
    first, second, third, fourth = st.columns(4)
    first.metric("Customers", f"{latest.customers:,}")
    second.metric("Personas", len(record.personas))
    third.metric("Customer groups", record.k)
    fourth.metric("Run", latest.run_id)
    brief = explore.brief_of(latest)
    if brief is None:
        table = explore.persona_table(latest)
        st.dataframe(table.drop(columns="color").style.format({"share": "{:.1%}",
                                                               "spend share": "{:.1%}"}),
                     hide_index=True, width="stretch")
    else:
        _brief_figures(brief)
    trend = explore.share_trend(runs)
    if len(trend) > 1:
        long = trend.reset_index().melt("as of", var_name="persona", value_name="share")
        st.subheader("Share of customers by data date")
        st.altair_chart(alt.Chart(long).mark_line(point=True).encode(
            x="as of:N", y=alt.Y("share:Q", axis=alt.Axis(format="%")),
            color=alt.Color("persona:N", scale=colours(latest))), width="stretch")
    change = record.week_over_week
    if change is not None:
        st.subheader(f"Since the brief of {change.previous_as_of}")
        left, middle, right = st.columns(3)
        left.metric("New customers", f"{change.new_customers:,}")
        middle.metric("Gone", f"{change.gone_customers:,}")
        right.metric("Slipped to a less valuable persona", f"{change.slipped:,}")
    _measured(record)
    for name in ("brief.pdf", "brief.html"):
        path = latest.folder / name
        if path.is_file():
            st.download_button(f"Download {name}", path.read_bytes(), file_name=name, key=name)


def graded(latest) -> None:
    """Earlier briefs' predictions against what happened by the newest brief's data (its
    run.json's followup, read back checked): every table, where the appendix shows the newest
    few."""
    followup = latest.record.followup
    st.header(f"Predictions graded: customers as of {pd.Timestamp(latest.as_of):%-d %b %Y}")
    view = followup_view(followup)
    if view is None:
        st.info("Nothing graded yet: the newest brief had no earlier brief of this source to check "
                "(or history.grading_weeks is 0).")
        return
    st.subheader("Earlier predictions against what happened")
    st.caption(view.intro)
    for table in (graded_table(g) for g in followup.graded):
        st.markdown(f"**{table.title}**")
        if table.note:
            st.info(table.note[:1].upper() + table.note[1:] + ".")
            continue
        st.dataframe(pd.DataFrame([{"Predicted": r.band, "Customers": r.customers,
                                    "Mean predicted": f"{r.predicted:.1%}", "Observed": f"{r.observed:.1%}",
                                    "In words": r.sentence} for r in table.rows]),
                     hide_index=True, width="stretch")
        st.caption(f"{table.customers:,} customers graded over {table.elapsed}; Brier score "
                   f"{table.brier:.3f} (lower is better).")
    for line in followup.notes:
        st.warning(line)
def _measured(record) -> None:
    """What the lists of earlier briefs did, as the brief says it (run.json, validated), and
    who this brief's lists hold back."""
    if record.measured or record.measure_notes:
        st.subheader("What earlier lists did")
        st.markdown("\n".join(f"- {effect.sentence}" for effect in record.measured))
        if record.measured:
            st.table(explore.effect_table(record.measured))
        for note in record.measure_notes:
            st.caption(note)
    if record.control is not None and record.control.lists:
        st.caption("Held back as control groups this week: " + "; ".join(
            f"{g.name} {g.control:,} of {g.listed:,}" for g in record.control.lists)
            + f" (in {record.control.file}).")


def _brief_figures(brief) -> None:
    """Page 1 of the brief: its actions, first calls and persona table, word for word."""
    week = brief.this_week
    if week.actions:
        st.subheader("This week, do this")
        st.markdown("\n".join(f"{n}. **{a.text}**" + (f" (list: {a.file})" if a.file else "")
                              + "." + (f" Why: {a.reason}." if a.reason else "")
                              for n, a in enumerate(week.actions, 1)))
    if week.call_first:
        st.caption(f"First {len(week.call_first)} to call, {week.call_order}")
        st.dataframe(pd.DataFrame([{"Customer ID": c.customer_id if not c.other_ids else
                                    f"{c.customer_id} (also {c.other_ids})", "Why": c.why}
                                   for c in week.call_first]), hide_index=True, width="stretch")
    st.subheader("Personas at a glance")
    st.dataframe(explore.brief_table(brief), hide_index=True, width="stretch")
    if week.flat_note:
        st.caption(week.flat_note)


def personas(config, runs, latest) -> None:
    st.header("Personas")
    frame = customers_of(str(latest.folder))
    names = list(explore.persona_table(latest)["persona"])
    persona = st.selectbox("Persona", names)
    metric = st.selectbox("Figure", list(explore.METRICS), format_func=explore.METRICS.get)
    shown = explore.sample(frame).assign(group=lambda f: f["persona"].where(f["persona"] == persona,
                                                                            "all other customers"))
    cap = shown[metric].quantile(0.99)  # one extreme income must not squash everyone into a bar
    shown = shown.assign(**{metric: shown[metric].clip(upper=cap)})
    shown_cap = f"{cap:,.0f}" if cap >= 10 else f"{cap:.2f}"
    st.caption(f"The top 1% (above {shown_cap}) are counted in the last bar.")
    st.altair_chart(alt.Chart(shown).mark_bar(opacity=0.7).encode(
        x=alt.X(f"{metric}:Q", bin=alt.Bin(maxbins=30), title=explore.METRICS[metric]),
        y=alt.Y("count():Q", stack=None, title="customers"),
        color=alt.Color("group:N", scale=alt.Scale(
            domain=[persona, "all other customers"],
            range=[explore.persona_table(latest).set_index("persona").at[persona, "color"], "#c8c8c8"]))),
        width="stretch")
    brief = explore.brief_of(latest)
    if brief is not None:
        st.subheader(brief.channel_mix.title)  # the brief's own finding, word for word
        st.altair_chart(alt.Chart(explore.mix_frame(brief.channel_mix)).mark_bar().encode(
            x=alt.X("share:Q", stack="normalize", axis=alt.Axis(format="%"), title="share of purchases"),
            y=alt.Y("persona:N", sort=None, title=None),
            color=alt.Color("part:N", title="channel", sort=list(brief.channel_mix.parts),
                            scale=alt.Scale(domain=list(brief.channel_mix.parts),
                                            range=list(MIX_PALETTE[:len(brief.channel_mix.parts)]))),
            order=alt.Order("order:Q")), width="stretch")
        if brief.campaigns is not None:
            st.subheader(brief.campaigns.title)
            st.altair_chart(alt.Chart(explore.rate_frame(brief.campaigns)).mark_bar().encode(
                x=alt.X("persona:N", title=None, sort=None), y=alt.Y("rate:Q", axis=alt.Axis(format="%")),
                color=alt.Color("persona:N", scale=alt.Scale(
                    domain=[*names, "all customers"],
                    range=[*explore.persona_table(latest)["color"], "#7f7f7f"]), legend=None),
                column=alt.Column("part:N", title=None)))
    st.subheader("Two personas side by side")
    left, right = st.columns(2)
    one = left.selectbox("First", names, index=0)
    two = right.selectbox("Second", names, index=min(1, len(names) - 1))
    st.dataframe(explore.compare(frame, one, two), width="stretch")
    st.subheader("Customers")
    flags = explore.flag_names(frame)
    which, flag, order = st.columns(3)
    chosen_persona = which.selectbox("In persona", ["any", *names], index=names.index(persona) + 1)
    chosen_flag = flag.selectbox("With flag", ["any", *flags])
    sort_by = order.selectbox("Sorted by", list(explore.METRICS), index=1, format_func=explore.METRICS.get)
    chosen = explore.selected(frame, None if chosen_persona == "any" else chosen_persona,
                              None if chosen_flag == "any" else chosen_flag, sort_by)
    st.caption(f"{len(chosen):,} customers")
    st.dataframe(explore.plain_columns(chosen.head(500)), hide_index=True, width="stretch")
    st.download_button("Download these customers (CSV)", lambda: csv_bytes(chosen),
                       file_name="customers.csv", key="customers-csv")  # made when clicked


def lookup(config, runs, latest) -> None:
    st.header("Customer lookup")
    text = st.text_input("Customer ID")
    if not text:
        return
    if not text.strip().isdigit():
        st.error("A customer ID is a whole number, e.g. 5524.")
        return
    customer_id = int(text)
    seen = explore.customer_history(runs, customer_id, segments_of, aliases_of)
    if not seen:
        st.warning(f"Customer {customer_id} is in no run of this source.")
        return
    st.dataframe(pd.DataFrame([{**s.__dict__, "flags": ", ".join(s.flags) or "none"} for s in seen]),
                 hide_index=True, width="stretch")
    frame = customers_of(str(latest.folder))
    listed = aliases_of(latest.folder).get(customer_id, customer_id)
    if (frame["ID"] == listed).any():
        st.subheader(f"Against their persona, as of {latest.as_of}")
        st.dataframe(explore.against_persona(frame, listed), width="stretch")
        predicted = explore.customer_predictions(frame, listed)
        if len(predicted):
            st.subheader("What we expect of them")
            st.dataframe(predicted, width="stretch")


def workshop(config, runs, latest, allow_edit: bool) -> None:
    st.header("Rule workshop")
    st.caption(f"{config.personas_path.name}: try a change on the customers of run {latest.run_id} "
               "before it goes live. Problems are shown as you type, worded as `reporter validate` "
               "words them.")
    text = st.text_area("personas.yaml", config.personas_path.read_text(encoding="utf-8"), height=420)
    tried = explore.try_rules(config, text, lambda: replayable_of(config, latest.folder))
    if tried.problems:
        for problem in tried.problems:
            st.error(problem)
        return
    change = tried.replay.change
    renamed = sum(count for _, _, count in change.renames)
    st.success(f"Valid. {change.moved - renamed:,} customers would change persona"
               + (f"; {renamed:,} would keep theirs under a new name." if renamed else "."))
    for line in rule_edit_lines(change):  # renames, merges and emptied personas, by customers
        st.write(line)
    if change.moves:
        st.dataframe(pd.DataFrame(change.moves, columns=["from", "to", "customers"]), hide_index=True)
    st.dataframe(tried.sizes(), width="stretch")
    if not allow_edit:
        st.info("Read-only: start the app with `reporter app --allow-edit` to save.")
        return
    if st.button("Save personas.yaml"):
        diff = explore.save_rules(config, text)
        if diff:
            st.success(f"Saved; the previous version is {config.personas_path.name}.previous.")
            st.code(diff, language="diff")
        else:
            st.info("Nothing changed.")


def archive(config, runs, latest, allow_edit: bool) -> None:
    st.header("Archive")
    st.dataframe(pd.DataFrame([{"run": r.run_id, "as of": r.as_of, "started": r.started_at[:16],
                                "customers": r.customers, "status": r.record.status,
                                "delivery": "held (below)" if r.record.held else r.delivery}
                               for r in runs]),
                 hide_index=True, width="stretch")
    _run_files(runs)
    held = [r for r in runs if r.record.held]
    if not held:
        return
    st.subheader("Held briefs")
    for run in held:  # every reason whole, never cut in a table cell
        newer = sent_since(run, runs)
        st.warning(explore.held_note(run, config.path) + (
            f" Run {newer.run_id}, of newer customers (as of {newer.as_of}), was sent: "
            "releasing this one would send the teams older figures." if newer else ""))
    run_id = st.selectbox("Held run", [r.run_id for r in held])
    if not allow_edit:
        st.info("Read-only: start the app with `reporter app --allow-edit` to release a brief.")
        return
    sure = st.checkbox(f"I have checked run {run_id}: send it to every team")
    if st.button("Release", disabled=not sure):
        from reporter.app.params import delivery_params
        from reporter.delivery.dispatch import release

        outcomes = release(delivery_params(config), run_id).outcomes
        st.success(f"Released run {run_id}: " + (", ".join(f"{o.team} {o.status}" for o in outcomes)
                                                 or "no team configured"))


def _run_files(runs) -> None:
    """A run's brief, PDF, call lists and change files, to open or download."""
    from reporter.brief.index import list_links

    if not runs:
        return
    chosen = st.selectbox("Files of run", [r.run_id for r in runs], key="files-of-run")
    run = next(r for r in runs if r.run_id == chosen)
    files = run.files()
    wanted = [("Brief (HTML)", "brief.html"), ("Brief (PDF)", "brief.pdf"), *list_links(files)]
    for label, name in wanted:
        if name in files:
            st.download_button(f"{label}: {name}", (run.folder / name).read_bytes(),
                               file_name=name.replace("/", "-"), key=f"file-{chosen}-{name}")


def main() -> None:
    st.set_page_config(page_title="SmartCart Briefs", layout="wide")
    allow_edit = os.environ.get("REPORTER_APP_ALLOW_EDIT") == "1"
    try:
        config = load_config(Path(os.environ.get("REPORTER_APP_CONFIG", "config/reporter.yaml")))
    except ReporterError as exc:
        st.error(exc.one_line())
        return
    asked = st.query_params.get("page", PAGES[0])  # ?page=Personas: a link straight to a page
    page = st.sidebar.radio("Page", PAGES, index=PAGES.index(asked) if asked in PAGES else 0)
    st.query_params["page"] = page
    st.sidebar.caption("Read-only" if not allow_edit else "Editing allowed")
    runs = explore.source_runs(config)
    newest = runs[0] if runs else None
    latest = explore.latest_delivered(config) or newest
    if latest is None:
        st.info("No brief of this customer source has been made yet: run `reporter run` first.")
        return
    warm_up(config, latest.folder)
    if page == "This week":
        this_week(config, runs, newest)
    elif page == "Personas":
        personas(config, runs, latest)
    elif page == "Customer lookup":
        lookup(config, runs, latest)
    elif page == "Predictions graded":
        graded(newest)
    elif page == "Rule workshop":
        workshop(config, runs, latest, allow_edit)
    else:
        archive(config, runs, latest, allow_edit)


main()
