"""The archive as an attack surface: files in a run folder (brief.json, run.json) are input
like any other. A crafted file is refused in one line (exit 2, naming the file and the field),
the PDF renderer fetches nothing from outside the brief, and a replay reads only the
configured source."""

from __future__ import annotations

import json
import re
import shutil
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from reporter.brief import render
from tests.conftest import run_main
from tests.support.archive import Published
from tests.support.briefed import briefed_once


class CountingServer:
    """A real HTTP server on 127.0.0.1 that records every request it receives."""

    def __init__(self):
        self.paths: list[str] = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                paths.append(self.path)
                body = png(5, 5)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_server():
    server = CountingServer()
    yield server
    server.stop()


def png(width: int, height: int) -> bytes:
    """A small valid PNG of a given size: its size is how a PDF is searched for it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    rows = b"".join(b"\x00" + b"\xc0\x39\x2b" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def embeds_image(pdf: bytes, width: int, height: int) -> bool:
    """Whether the PDF holds an image XObject of exactly this size."""
    return any(int(w) == width and int(h) == height
               for w, h in re.findall(rb"/Width (\d+)\s*/Height (\d+)", pdf))


@pytest.fixture
def briefed(tmp_path_factory, sample_csv) -> Published:
    """One real run (config, archive): the sample's first brief, made once per session
    (tests/support/briefed.py), where this module made one of its own; each test works on
    its own copy."""
    return briefed_once(tmp_path_factory, sample_csv)


@pytest.fixture
def copy(briefed, tmp_path) -> Path:
    return briefed.copy_to(tmp_path / "project").root


def folder_of(root: Path) -> Path:
    return next(p for p in (root / "output").iterdir() if p.name.startswith("20"))


def edit_json(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def config_of(root: Path) -> str:
    return str(root / "config" / "reporter.yaml")


SECRET_SIZE = (37, 23)  # the local file a crafted brief tries to put into the PDF


@pytest.mark.parametrize("field", ["flags[0].color", "personas[0].color", "model.segments[0].color"])
def test_a_colour_carrying_css_in_brief_json_is_refused_and_nothing_is_fetched(copy, tmp_path,
                                                                               http_server, field):
    """On main the flag's colour went into a style attribute as CSS: `reporter rerender`
    fetched the URL and embedded the local PNG in the PDF (a persona's colour crashed the
    chart with a traceback). Refused, not neutralised: a colour reporter wrote is always
    #rrggbb, so any other value means the file was changed, and the archived PDF stands."""
    secret = tmp_path / "secret.png"
    secret.write_bytes(png(*SECRET_SIZE))
    crafted = (f"#c0392b; background-image: url({secret.as_uri()}), "
               f"url({http_server.url('x')})")
    folder = folder_of(copy)
    section, index, key = re.fullmatch(r"(.+)\[(\d)\]\.(\w+)", field).groups()

    def plant(document):
        target = document
        for part in section.split("."):
            target = target[part]
        target[int(index)][key] = crafted

    edit_json(folder / "brief.json", plant)
    out = tmp_path / "rerendered"
    done = run_main("rerender", "--config", config_of(copy), folder.name, "--out", str(out))
    assert http_server.paths == [], "nothing was fetched"
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert f"{folder / 'brief.json'}: {field}:" in lines[0]
    assert "#rrggbb" in lines[0]
    assert not (out / "brief.pdf").exists(), "no PDF made from a crafted brief"


def test_a_name_that_reads_as_tex_is_drawn_as_text_not_parsed(copy, tmp_path):
    """On main a persona name such as '$\\frac{$' in brief.json broke the chart (matplotlib's
    mathtext parser, a traceback, exit 1). Names are text: drawn as written."""
    from pypdf import PdfReader

    folder = folder_of(copy)
    name = "Cheap $\\frac{$ fans"
    edit_json(folder / "brief.json", lambda d: d["personas"][0].update(name=name))
    out = tmp_path / "rerendered"
    done = run_main("rerender", "--config", config_of(copy), folder.name, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert name in "".join(page.extract_text() for page in PdfReader(out / "brief.pdf").pages)


def test_the_pdf_renderer_fetches_nothing_outside_the_brief(tmp_path, http_server, caplog):
    """Even if a URL reached the HTML, WeasyPrint's fetcher loads only data: URLs and the
    package's templates: no request to the server, no local file in the PDF, while an image
    given as a data: URL is drawn (so the search for the local one can find an image)."""
    secret = tmp_path / "secret.png"
    secret.write_bytes(png(*SECRET_SIZE))
    inline = "data:image/png;base64," + __import__("base64").b64encode(png(41, 29)).decode()
    svg = ("<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink' "
           f"width='20' height='20'><image xlink:href='{secret.as_uri()}' width='20' height='20'/>"
           f"<image href='{http_server.url('in-svg')}' width='20' height='20'/></svg>")
    html = f"""<html><head>
<link rel="stylesheet" href="{http_server.url('sheet.css')}">
<style>body {{ background-image: url({secret.as_uri()}), url({http_server.url('background')}); }}
@font-face {{ font-family: x; src: url({http_server.url('font')}); }}
p {{ font-family: x; }}</style></head><body>
<p>Hostile HTML</p>
<img src="{http_server.url('image')}"> <img src="{secret.as_uri()}"> <img src="secret.png">
<img src="data:image/svg+xml,{quote(svg)}"> <img src="{inline}">
</body></html>"""
    with caplog.at_level("WARNING"):
        pdf = render.render_pdf(html)
    assert http_server.paths == []
    assert not embeds_image(pdf, *SECRET_SIZE), "the local file is not in the PDF"
    assert embeds_image(pdf, 41, 29), "the data: image is drawn"
    refusals = [r.getMessage() for r in caplog.records if r.name == "reporter"]
    assert len(refusals) == 1 and "refused to load" in refusals[0]
    assert http_server.url("image") in refusals[0] and secret.as_uri() in refusals[0]
    assert not [r for r in caplog.records if r.name == "weasyprint" and "refused" in r.getMessage()], \
        "said once, in our words"


def test_only_data_urls_and_the_packages_templates_are_allowed():
    templates = render.templates_dir()
    assert render.allowed_url("data:image/png;base64,AAAA")
    assert render.allowed_url((templates / "brief.css").as_uri())
    assert not render.allowed_url((templates / ".." / "config.py").as_uri()), "not beside them"
    assert not render.allowed_url("file:///etc/passwd")
    assert not render.allowed_url(f"file://example.com{templates / 'brief.css'}")
    for url in ("http://127.0.0.1/x", "https://example.com/x", "ftp://example.com/x", "x.png"):
        assert not render.allowed_url(url)


def _planting(field: tuple, value):
    """An edit of a JSON document that sets the value at the path `field`, as an attacker would."""
    def plant(document):
        target = document
        for part in field[:-1]:
            target = target[part]
        target[field[-1]] = value
    return plant


@pytest.mark.parametrize(("field", "value", "said"), [
    (("customers",), "lots", "customers: 'lots' is not of the type this field holds"),
    (("title",), {"a": 1}, "title: not a text"),
    (("appendix",), "../../etc", "appendix: '../../etc' is not one of"),
    (("notes", "notes"), [{"kind": "x\" onload=\"y", "count": 1, "text": "t"}], "notes.notes[0].kind"),
])
def test_a_brief_json_value_of_the_wrong_type_or_shape_is_refused_in_one_line(copy, field, value, said):
    """On main a wrong type reached the templates and failed with a traceback (exit 1)."""
    folder = folder_of(copy)

    edit_json(folder / "brief.json", _planting(field, value))
    done = run_main("rerender", "--config", config_of(copy), folder.name,
                    "--out", str(copy / "rerendered"))
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert f"{folder / 'brief.json'}: {said}" in done.stderr


@pytest.mark.parametrize(("field", "value", "said"), [
    (("run_id",), "../../etc", "run_id: '../../etc' is not a run id"),
    (("baseline",), "2026", "baseline: '2026' is not a run id"),
    (("personas", "Premium", "color"), "red; background: url(http://x)", "personas['Premium'].color"),
    (("data", "kind"), "shell", "data.kind: 'shell' is not one of file, folder, database, spark table"),
    (("data", "sha256"), "abc", "data.sha256: 'abc' is not a sha256"),
    (("data", "path"), ["/etc/passwd"], "data.path: not a path"),
    (("exports",), ["customers.csv", "../../../etc/passwd"], "exports: '../../../etc/passwd' is not a file"),
    (("model", "files"), ["/etc/passwd"], "model.files: '/etc/passwd' is not a file"),
    (("as_of",), "next week", "as_of: 'next week' is not a date"),
    (("format_version",), 99, "format_version: 99 is not a format this version reads"),
    (("k",), 10**30, "k: 1000000000000000000000000000000 is out of range"),
    (("dry_run",), "no", "dry_run: not true or false"),
    (("data_notes", "notes"), [{"kind": "repair", "count": 1, "text": "x" * 30_000}],
     "data_notes.notes[0].text: 30,000 characters"),
    (("k_selection",), {"d": [[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]},
     "k_selection['d']['0']['0']"),  # nested more than 24 levels deep
])
def test_a_run_json_value_of_the_wrong_type_or_shape_is_refused_in_one_line(copy, field, value, said):
    """On main run.json was rebuilt without a check: `archive show` printed whatever it held."""
    folder = folder_of(copy)

    edit_json(folder / "run.json", _planting(field, value))
    done = run_main("archive", "show", "--config", config_of(copy), folder.name)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert f"{folder / 'run.json'}: {said}" in done.stderr


def test_a_run_json_too_large_or_not_json_is_refused_in_one_line(copy, monkeypatch):
    from reporter.history import record

    folder = folder_of(copy)
    monkeypatch.setattr(record, "MAX_RECORD_BYTES", 1000, raising=False)
    done = run_main("archive", "show", "--config", config_of(copy), folder.name)
    assert done.returncode == 2
    assert f"{folder / 'run.json'}: " in done.stderr and "more than the 1,000" in done.stderr
    monkeypatch.undo()
    (folder / "run.json").write_text("[" * 100_000)
    done = run_main("archive", "show", "--config", config_of(copy), folder.name)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{folder / 'run.json'}: not readable as JSON" in done.stderr


def replay(root: Path, folder: Path) -> tuple:
    out = root / "replay.csv"
    done = run_main("personas", "replay", "--config", config_of(root), "--run", folder.name,
                    "--out", str(out))
    return done, out


def test_replay_of_an_untouched_run_reads_its_source(copy):
    done, out = replay(copy, folder_of(copy))
    assert done.returncode == 0, done.stderr
    assert out.is_file()


def test_replay_refuses_a_data_path_outside_the_source_such_as_etc_passwd(copy):
    """On main a crafted data.path made replay open and parse /etc/passwd."""
    folder = folder_of(copy)
    edit_json(folder / "run.json", lambda d: d["data"].update(path="/etc/passwd"))
    done, out = replay(copy, folder)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert (f"{folder / 'run.json'}: data.path /etc/passwd is not a file of the configured source"
            in done.stderr)
    assert not out.exists()


def test_replay_refuses_a_copy_of_the_source_elsewhere_even_with_the_recorded_sha256(copy, briefed,
                                                                                     tmp_path):
    """On main any CSV whose sha256 matched was read and its customers written out: a copy
    outside the source folder, or a link inside it to a file elsewhere."""
    sample_csv = briefed.data  # the file the copied run read
    folder = folder_of(copy)
    elsewhere = tmp_path / "elsewhere" / sample_csv.name
    elsewhere.parent.mkdir()
    shutil.copy(sample_csv, elsewhere)
    edit_json(folder / "run.json", lambda d: d["data"].update(path=str(elsewhere)))
    done, out = replay(copy, folder)
    assert done.returncode == 2, done.stderr
    assert f"data.path {elsewhere} is not a file of the configured source" in done.stderr
    assert not out.exists()
    named = run_main("personas", "replay", "--config", config_of(copy), "--run", folder.name,
                     "--data", str(elsewhere), "--out", str(out))
    assert named.returncode == 0, "an operator may name the file a run made with --data read"
    assert out.is_file()


def test_replay_follows_links_before_deciding_what_is_inside_the_source(copy, briefed, tmp_path):
    """A source folder with a symbolic link to a file elsewhere: the link is inside, the file
    it names is not."""
    sample_csv = briefed.data  # the file the copied run read, named in its config
    source = tmp_path / "source"
    source.mkdir()
    elsewhere = tmp_path / "elsewhere.csv"
    shutil.copy(sample_csv, elsewhere)
    (source / "customers.csv").symlink_to(elsewhere)
    config = Path(config_of(copy))
    config.write_text(config.read_text().replace(str(sample_csv), str(source)))
    folder = folder_of(copy)
    edit_json(folder / "run.json", lambda d: d["data"].update(path=str(source / "customers.csv")))
    done, out = replay(copy, folder)
    assert done.returncode == 2, done.stderr
    assert "is not a file of the configured source" in done.stderr
    assert not out.exists()


def _rename_id(frame):
    return frame.rename(columns={"ID": "Id"})


def _text_id(frame):
    return frame.assign(ID=frame["ID"].astype(str).str.replace("1", "x"))


def _flag_seven(frame):
    return frame.assign(flag_churn_risk=7)


@pytest.mark.parametrize(("change", "said"), [
    (_rename_id, "no ID column"),
    (_text_id, "column ID does not hold one whole number"),
    (_flag_seven, "column flag_churn_risk holds values other than 0 and 1"),
])
def test_a_baseline_customers_csv_not_as_written_stops_the_next_run_in_one_line(copy, change, said):
    """The next run compares with its baseline's archived customers.csv: on main a file without
    the ID column, or with text IDs, failed with a traceback (exit 1), and a flag of 7 was
    counted as set. Stopped before anything is published, in one line naming the file."""
    import pandas as pd

    customers = folder_of(copy) / "customers.csv"
    change(pd.read_csv(customers)).to_csv(customers, index=False)
    done = run_main("run", "--config", config_of(copy))
    assert done.returncode == 2, done.stderr
    assert f"{customers}: " in done.stderr and said in done.stderr
    assert "Traceback" not in done.stderr
    assert len([p for p in (copy / "output").iterdir() if p.name.startswith("20")]) == 1, \
        "nothing published"
