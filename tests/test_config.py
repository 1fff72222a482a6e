from __future__ import annotations

import pytest
import yaml

from reporter.app.reference import REFERENCE, _model_of, reference_text
from reporter.app.settings import ReporterConfig, load_config
from reporter.errors import ConfigError
from reporter.personas.rulebook import rulebook_problems
from tests.conftest import REPO_ROOT


def test_default_config_loads_with_paths_relative_to_the_file():
    config = load_config(REPO_ROOT / "config" / "reporter.yaml")
    assert config.personas_path == REPO_ROOT / "config" / "personas.yaml"
    assert config.output_dir == REPO_ROOT / "output"
    assert config.settings.segmentation.k == "auto"
    assert len(config.fingerprint()) == 64


def test_fingerprint_changes_with_a_setting(project):
    path = project / "config" / "reporter.yaml"
    before = load_config(path).fingerprint()
    path.write_text(path.read_text().replace("k_max: 10", "k_max: 9"))
    assert load_config(path).fingerprint() != before


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("k_max: 10", "k_max: eight", r"line \d+, segmentation.k_max: must be a whole number"),
        ("  k_min: 2", "  k_min: 2\n  k_mni: 2", r'segmentation.k_mni: unknown key; did you mean "k_min"\?'),
        ("personas_file:", "personas_fiel: x\npersonas_file:",
         r'personas_fiel: unknown key; did you mean "personas_file"'),
        ("cron: 0 7 * * mon", "cron: 0 25 * * mon",
         r"line {line}, schedule.cron: cron '0 25 \* \* mon' is not valid"),
        ("timezone: Europe/London", "timezone: Europe/Londn",
         r"line {line}, schedule.timezone: unknown timezone 'Europe/Londn'"),
        ("- name: Retention", "- name: ../../etc", r"team name '../../etc' may use letters"),
        ("k: auto", "k: automatic", r"segmentation.k"),
        ("k: auto", "k: five",
         r"line {line}, segmentation.k: must be a whole number such as 5, or auto; fix"),  # one problem
        ("k: auto", "k: 1", r"line {line}, segmentation.k: must be auto or a whole number of at least 2"),
        ("min_age: 18", "min_age: 120", r"clean.max_age: must be larger than min_age \(120\); min_age must "
                                        r"be smaller than max_age"),
        ("max_age: 100", "max_age: 10", r"line {line}, clean.max_age: must be larger than min_age \(18\)"),
        ("  - income\n", "  - incom\n",
         r'line {line}, segmentation.features item 1: "incom" is not a feature; did you mean "income"\?'),
        ("  - total_spending\n", "  - income\n",
         r'line {line}, segmentation.features item 2: "income" is listed twice; remove one'),
        ("categorical: []", "categorical: [gender]",
         r'line {line}, segmentation.categorical item 1: "gender" is not a categorical feature; the '
         r"categorical features are education and living_with"),
        ("seed: 42", "seed: -1", r"line {line}, segmentation.seed: must be at least 0"),
        ("date_format: null", "date_format: '%Q'",
         r"line {line}, source.date_format: '%Q': %Q is not a strptime code; use strptime codes, e.g. "
         r"'%d.%m.%Y'"),
        ("date_format: null", "date_format: dd.mm.yyyy",
         r"line {line}, source.date_format: 'dd.mm.yyyy' holds no strptime code \(each starts with %\); "
         r"use strptime codes, e.g. '%d.%m.%Y'"),
        ("owners: []", "owners: [not-an-email]",
         r"line {line}, owners item 1: 'not-an-email' is not an email address: it has no @; write it as "
         r"name@example.com"),
        ("- marketing@example.com", "- marketing@example",
         r"line {line}, teams \"Marketing\", recipients item 1: 'marketing@example' is not an email "
         r"address: the domain 'example' has no dot"),
        ("- name: Retention", "- name: Marketing",
         r'line {line}, teams "Marketing", name: team 1 above is also named "Marketing"; team names '
         r"must be unique, rename one"),
        ("source:\n", "source: [\n", r"line \d+, the \[ opened on this line is not closed with \]"),
        ("  k_min: 2", "\tk_min: 2", r"line \d+, a tab character: YAML indents with spaces only"),
        ("  k_max: 10", "   k_max: 10", r"line \d+, (this line is not lined up|a key where none can start)"),
        ("  k_max: 10", "  k_max: 10\n  k_max: 12", r'line \d+, "k_max" is written twice in the same group'),
        ("  psi_refit: 0.25", "  psi_refit: 0.05", r"model.psi_watch: must not be above psi_refit \(0.05\)"),
        ("  refit_every: 4 weeks", "  refit_every: monthly", r"'monthly' is not a duration"),
    ],
)
def test_config_errors_name_the_file_line_and_key(project, old, new, expected):
    """{line} in `expected`: the line of the key the edit changed, not its group's."""
    path = project / "config" / "reporter.yaml"
    text = path.read_text()
    assert old in text
    edited = text.replace(old, new, 1)
    path.write_text(edited)
    line = edited[:text.index(old) + len(new.rstrip())].count("\n") + 1
    with pytest.raises(ConfigError, match=expected.replace("{line}", str(line))) as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_several_problems_are_reported_at_once(project):
    path = project / "config" / "reporter.yaml"
    text = path.read_text().replace("k_max: 10", "k_max: x").replace("seed: 42", "seed: y")
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "k_max" in str(caught.value) and "seed" in str(caught.value)


def test_a_config_path_that_is_not_there_is_the_one_problem_named(tmp_path):
    """A mistyped --config gave two problems, the personas file first, both saying "pass
    --config", which the user just did."""
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "conf" / "reporter.yaml")
    (problem,) = caught.value.found
    assert problem.file == str(tmp_path / "conf" / "reporter.yaml") and problem.text == "file not found"
    assert problem.fix.startswith("check the path given to --config")


def test_a_personas_file_that_is_not_there_points_at_personas_file(project):
    (project / "config" / "personas.yaml").unlink()
    with pytest.raises(ConfigError) as caught:
        load_config(project / "config" / "reporter.yaml")
    (problem,) = caught.value.found
    assert problem.file.endswith("personas.yaml") and "check personas_file in reporter.yaml" in problem.fix


def test_yaml_tags_are_not_executed(project, tmp_path):
    marker = tmp_path / "pwned"
    path = project / "config" / "reporter.yaml"
    path.write_text(
        f"source:\n  path: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    with pytest.raises(ConfigError):
        load_config(path)
    assert not marker.exists()


def test_personas_file_type_problems_name_the_line(project):
    personas = project / "config" / "personas.yaml"
    personas.write_text(personas.read_text().replace("priority: 1\n", "priority: first\n", 1))
    with pytest.raises(ConfigError, match=r'personas.yaml: line \d+, personas "Premium", priority: must '
                                          r"be a whole number"):
        load_config(project / "config" / "reporter.yaml")


def test_the_stages_plain_defaults_equal_the_config_defaults():
    """A stage called without reporter.yaml behaves as the default config would."""
    from reporter.app.params import analysis_params
    from reporter.app.settings import ReporterConfig, SourceConfig
    from reporter.model.params import AnalysisParams

    from_config = analysis_params(ReporterConfig(source=SourceConfig(path="x.csv")))
    assert from_config == AnalysisParams()


@pytest.mark.parametrize("extra, expected", [
    ("engine: spark\nsegmentation: {algorithm: gmm}\n", "engine: spark scores kmeans and agglomerative"),
    ("engine: local\n", None),
    ("engine: sparkle\n", "engine"),
    ("spark: {sample_rows: 10}\n", "sample_rows"),
], ids=["gmm on spark", "local", "unknown engine", "tiny sample"])
def test_the_engine_settings_are_checked(project, extra, expected):
    path = project / "config" / "reporter.yaml"
    document = yaml.safe_load(path.read_text())
    document.update(yaml.safe_load(extra))
    path.write_text(yaml.safe_dump(document))
    if expected is None:
        assert load_config(path).settings.engine == "local"
        return
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_a_spark_table_source_needs_the_spark_engine_and_a_url_the_local_one(project):
    path = project / "config" / "reporter.yaml"
    document = yaml.safe_load(path.read_text())
    document["source"] = {"spark_table": "crm.customers"}
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=r"source\.spark_table is read by engine: spark"):
        load_config(path)
    document["engine"] = "spark"
    path.write_text(yaml.safe_dump(document))
    assert load_config(path).settings.source.spark_table == "crm.customers"
    document["source"] = {"url": "sqlite:///crm.db", "table": "customers"}
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match="a database url is read by engine: local"):
        load_config(path)


LAUGHS = ("lol: &a [x, x, x, x, x, x, x, x, x, x]\n"
          "lol2: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
          "lol3: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
          "lol4: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
          "lol5: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n")


@pytest.mark.parametrize(("added", "expected"), [
    (LAUGHS, r"reporter.yaml: line {end}, the alias \*d repeats &d so often that the file would hold "
             r"more than 20,000 values or 1,000,000 characters once read; write each text once, where "
             r"it is needed"),
    ("brief:\n  title: &t " + "T" * 120_000 + "\n" + "".join(f"k{i}: *t\n" for i in range(8)),
     r"reporter.yaml: line {end}, the alias \*t repeats &t so often"),
    ("# " + "x" * 300_000 + "\n", r"reporter.yaml: the file is larger than 256 kB, far more than a "
                                  r"settings file needs; check that this is the right file"),
    ("x: " + "[" * 60 + "]" * 60 + "\n", r"reporter.yaml: line {end}, lists and groups are nested more "
                                         r"than 40 deep"),
], ids=["nested aliases", "one long text aliased", "a file over 256 kB", "nesting 60 deep"])
def test_settings_files_are_bounded_once_aliases_expand(project, added, expected):
    path = project / "config" / "reporter.yaml"
    text = path.read_text() + added
    path.write_text(text)
    end = text.rstrip("\n").count("\n") + 1  # the line that tips it: the last one here
    with pytest.raises(ConfigError, match=expected.format(end=end)) as caught:
        load_config(path)
    assert len(caught.value.problems) == 1


def test_a_shared_alias_of_small_text_is_still_read(project):
    personas = project / "config" / "personas.yaml"
    text = personas.read_text().replace("      - Invite to the loyalty tier.\n",
                                        "      - &invite Invite to the loyalty tier.\n", 1)
    personas.write_text(text.replace("      - Call the top ten personally.\n", "      - *invite\n", 1))
    config = load_config(project / "config" / "reporter.yaml")
    actions = {p.name: p.actions for p in config.personas.personas}
    assert actions["Churn Risk"][-1] == actions["Premium"][0] == "Invite to the loyalty tier."


def _settings_fields(model, prefix=""):
    """Every setting of reporter.yaml with its dotted key, sections included."""
    for name, field in model.model_fields.items():
        yield prefix + name, field
        inner, _ = _model_of(field.annotation)
        if inner is not None:
            yield from _settings_fields(inner, f"{prefix}{name}.")


def test_every_setting_says_what_it_does():
    """Issue 32: the reference is generated from the field descriptions, so none may be empty."""
    undescribed = [key for key, field in _settings_fields(ReporterConfig) if not field.description]
    assert not undescribed, undescribed


def test_the_configuration_reference_is_what_the_models_say():
    """docs/reference/configuration.md is generated from the models, every setting's
    description in it; an edited model without a regenerated file (or a hand-edited file)
    fails here."""
    committed = (REPO_ROOT / REFERENCE).read_text(encoding="utf-8")
    assert committed == reference_text(), "run `reporter config reference` and commit the file"
    missing = [key for key, field in _settings_fields(ReporterConfig)
               if " ".join(field.description.split()).replace("|", "\\|") not in committed]
    assert not missing, missing


def test_problems_are_data_the_message_is_made_from(project):
    """Issue 32: a problem is a record (file, line, place, text, fix), collected once; the CLI,
    the API and the app format it and never take a message apart again."""
    path = project / "config" / "reporter.yaml"
    personas = project / "config" / "personas.yaml"
    path.write_text(path.read_text().replace("cron: 0 7 * * mon", "cron: 0 25 * * mon"))
    personas.write_text(personas.read_text().replace("recency > 60", "recency > lots"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, check_rules=rulebook_problems)
    by_file = {problem.file: problem for problem in caught.value.found}
    cron = by_file[str(path)]
    assert cron.place == "schedule.cron" and cron.line == _line_of(path, "cron: 0 25")
    assert cron.text.startswith("cron '0 25 * * mon' is not valid (hour field '25'")
    rule = by_file[str(personas)]
    assert rule.line == _line_of(personas, "recency > lots") and 'persona "Churn Risk"' in rule.text
    assert caught.value.problems == tuple(str(p) for p in caught.value.found)
    assert str(cron) == f"{path}: line {cron.line}, schedule.cron: {cron.text}"


def _line_of(path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_whole_k_written_with_a_decimal_point_is_read_as_that_number(project):
    path = project / "config" / "reporter.yaml"
    path.write_text(path.read_text().replace("k: auto", "k: 5.0", 1))
    assert load_config(path).settings.segmentation.k == 5
