#!/usr/bin/env python3
"""test_import.py: `newsd import FILE...` end to end, read back over HTTP.

The shared sample (when ND_SAMPLES exists), the demo articles in
config/demo, the parser fixtures in tests/fixtures and files written here:
what each becomes (title, slug, category, body without page furniture),
that re-importing creates nothing, and that one bad file fails the run
(exit status 1) without stopping the others.
"""

import calendar
import glob
import os
import re
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    Server, Tap, binary_from_argv, run_cli, samples_dir, scratch_db, source_root,
)

BIN = binary_from_argv()
tap = Tap()

OUTCOME = re.compile(r"^(created|exists) (\d+) (\S+)$")
FURNITURE = {"source link", "posted in", "leave a comment"}

LAVROV = "Russia’s Lavrov praises Pyongyang’s ‘unequivocal support’ on Ukraine"
LAVROV_SLUG = "russias-lavrov-praises-pyongyangs-unequivocal-support-on-ukraine"
LAVROV_P1 = ("Russian Foreign Minister Sergei Lavrov praised his country’s military alliance "
             "with North Korea on Saturday, during a visit aimed at reaffirming the two "
             "countries’ strategic partnership.")
LAVROV_LAST = ("In return for military aid, Russia is said to be supplying food to isolated "
               "North Korea, as well as supporting the country with the technical development "
               "of its missile programmes. There has been no official confirmation of this.")

CLEAN_TITLE = "Ashcombe ferry returns to its summer schedule"
CLEAN_BODY = ("The passenger ferry between Ashcombe and Pellow Point resumes hourly crossings on "
              "Monday.\n\nTickets bought for the winter service remain valid until the end of the "
              "month.\n\nThe operator thanked passengers for their patience during the repairs to "
              "the landing stage.")

# What the project's parser fixtures must become: (title, category, body), or
# None for a file that must be refused. Files not listed get generic checks.
FIXTURES = {
    "clean.txt": (CLEAN_TITLE, "Transport", CLEAN_BODY),
    "crlf.txt": (CLEAN_TITLE, "Transport", CLEAN_BODY),
    "lone-cr.txt": (CLEAN_TITLE, "Transport", CLEAN_BODY),
    "bom.txt": (CLEAN_TITLE, "Transport", CLEAN_BODY),
    "no-repeat.txt": (
        "Pellow Point lighthouse open for guided tours", "Heritage",
        "Guided tours of the Pellow Point lighthouse start again this weekend.\n\nVisitors climb "
        "the 112 steps to the lamp room in groups of eight."),
    "no-furniture.txt": (
        "Cycle path along the canal resurfaced", "",
        "The towpath between the two locks has a new smooth surface.\n\nCyclists are asked to "
        "give way to walkers near the moorings."),
    "multiline.txt": (
        "Market hall roof repairs finish early", "",
        "The repairs to the market hall roof finished a week ahead of plan. Traders can move "
        "back into the hall on Friday morning.\n\nThe hall will host a reopening fair on "
        "Saturday."),
    "accents-title.txt": (
        "Café ‘Zur Mühle’ reopens after the Straße works", "Food & Drink",
        "The café by the mill pond reopens on Thursday after six weeks of road works outside."),
    "empty.txt": None,
    "blank.txt": None,
    "title-only.txt": None,
    "invalid-utf8.txt": None,
}
FIXTURE_SLUGS = {"accents-title.txt": "cafe-zur-muhle-reopens-after-the-strasse-works",
                 "clean.txt": "ashcombe-ferry-returns-to-its-summer-schedule"}

DEMO_CATEGORIES = {
    "garden-harvest.txt": "Neighbourhood", "library-hours.txt": "Community",
    "rail-timetable.txt": "Transport", "robotics-team.txt": "Education",
    "weather-outlook.txt": "Weather",
}


def import_files(db, paths):
    """Runs newsd import; returns (process, [(outcome, id, slug)...])."""
    proc = run_cli(BIN, ["--db", db, "import", *paths], timeout=60)
    outcomes = []
    for line in proc.stdout.splitlines():
        m = OUTCOME.match(line.strip())
        if m:
            outcomes.append((m.group(1), int(m.group(2)), m.group(3)))
    return proc, outcomes


def describe(proc):
    return f"exit {proc.returncode}\nstdout: {proc.stdout!r}\nstderr: {proc.stderr!r}"


def count(srv):
    items, _ = srv.walk("/v1/articles?limit=100")
    return len(items)


def article(srv, ident):
    resp = srv.request("GET", f"/v1/articles/{ident}")
    tap.require(resp.status == 200, f"GET /v1/articles/{ident}: {resp}")
    return resp.json


def furniture_free(art, label):
    """Generic checks for any imported article."""
    paras = art["body"].split("\n\n")
    for p in paras:
        tap.check(p.strip().rstrip(":").strip().lower() not in FURNITURE,
                  f"{label}: page furniture in the body: {p!r}")
        tap.check(p.strip() == p and p, f"{label}: untrimmed or empty paragraph {p!r}")
    tap.check(paras[0] != art["title"], f"{label}: the title is repeated in the body")
    for field in ("title", "body", "category"):
        value = art[field]
        tap.check("\r" not in value and "\ufeff" not in value,
                  f"{label}: CR or BOM in {field}: {value[:80]!r}")
    tap.check(art["title"] and "\n" not in art["title"], f"{label}: bad title {art['title']!r}")
    tap.eq(art["status"], "published", f"{label}: status")
    stamp = calendar.timegm(time.strptime(art["published_at"], "%Y-%m-%dT%H:%M:%SZ"))
    tap.check(abs(stamp - time.time()) < 300, f"{label}: published_at {art['published_at']}")


def sample_body(path):
    """The body the sample must become: its paragraphs between the repeated
    title and the furniture, joined by blank lines."""
    with open(path, encoding="utf-8") as f:
        paras = [p.strip() for p in re.split(r"\n\s*\n", f.read()) if p.strip()]
    tap.require(paras[:2] == [LAVROV, LAVROV] and
                paras[-4:] == ["Source link", "Posted in", "Billboard Lifestyle",
                               "Leave a Comment"], "the sample file is not the one expected")
    return "\n\n".join(" ".join(p.split("\n")) for p in paras[2:-4])


# ---- the points -----------------------------------------------------------


def test_sample_import(db, path):
    proc, outcomes = import_files(db, [path])
    tap.eq(proc.returncode, 0, "import exit status; " + describe(proc))
    tap.require(len(outcomes) == 1, "want one outcome line; " + describe(proc))
    tap.eq(outcomes[0][0], "created", "outcome")
    tap.eq(outcomes[0][2], LAVROV_SLUG, "slug reported")
    return outcomes[0][1]


def test_sample_http(srv, path, art_id):
    art = article(srv, LAVROV_SLUG)
    tap.eq(art["id"], art_id, "id")
    tap.eq(art["title"], LAVROV, "title")
    tap.eq(art["category"], "Billboard Lifestyle", "category")
    tap.eq(art["summary"], LAVROV_P1, "summary")
    tap.eq(art["body"], sample_body(path), "body")
    tap.check(art["body"].startswith(LAVROV_P1 + "\n\n"), "body starts with the first paragraph")
    tap.check(art["body"].endswith(LAVROV_LAST), "body ends with the last paragraph")
    tap.eq(len(art["body"].split("\n\n")), 14, "paragraphs in the body")
    for field, value in (("author", ""), ("tags", []), ("source_url", None)):
        tap.eq(art[field], value, field)
    furniture_free(art, "sample")
    listed = srv.request("GET", "/v1/articles?category=" + "Billboard%20Lifestyle")
    tap.eq([a["id"] for a in listed.json["data"]], [art_id], "listed under its category")


def test_reimport(srv, db, path, art_id):
    before = count(srv)
    proc, outcomes = import_files(db, [path])
    tap.eq(proc.returncode, 0, "re-import exit status; " + describe(proc))
    tap.eq(outcomes, [("exists", art_id, LAVROV_SLUG)], "re-import outcome; " + describe(proc))
    tap.eq(count(srv), before, "article count after re-import")


def test_demo(srv, db, files):
    before = count(srv)
    proc, outcomes = import_files(db, files)
    tap.eq(proc.returncode, 0, "demo import exit status; " + describe(proc))
    tap.require(len(outcomes) == len(files), "one outcome line per file; " + describe(proc))
    created = [o for o in outcomes if o[0] == "created"]
    tap.eq(count(srv), before + len(created), "article count after the demo import")
    for path, (_, art_id, slug) in zip(files, outcomes):
        name = os.path.basename(path)
        art = article(srv, art_id)
        tap.eq(art["slug"], slug, f"{name}: slug reported")
        with open(path, encoding="utf-8") as f:
            first_line = f.readline().strip()
        tap.eq(art["title"], first_line, f"{name}: title")
        if name in DEMO_CATEGORIES:
            tap.eq(art["category"], DEMO_CATEGORIES[name], f"{name}: category")
        furniture_free(art, name)
    total = count(srv)
    proc, again = import_files(db, files)
    tap.eq(proc.returncode, 0, "demo re-import exit status; " + describe(proc))
    tap.eq(again, [("exists", i, s) for _, i, s in outcomes], "demo re-import outcomes")
    tap.eq(count(srv), total, "article count after the demo re-import")


def test_fixture(srv, db, path, seen):
    """seen maps (title, body) to the id made by an earlier fixture."""
    name = os.path.basename(path)
    before = count(srv)
    proc, outcomes = import_files(db, [path])
    if name in FIXTURES and FIXTURES[name] is None:
        tap.eq(proc.returncode, 1, f"{name} must be refused; " + describe(proc))
        tap.eq(outcomes, [], f"{name}: no outcome line")
        tap.check(name in proc.stderr, f"{name}: stderr does not name the file: {proc.stderr!r}")
        tap.eq(count(srv), before, f"{name}: nothing created")
        return
    # A fixture FIXTURES does not describe is still a good article: it imports.
    tap.eq(proc.returncode, 0, f"{name}: " + describe(proc))
    tap.require(len(outcomes) == 1, f"{name}: want one outcome line; " + describe(proc))
    outcome, art_id, slug = outcomes[0]
    art = article(srv, art_id)
    furniture_free(art, name)
    tap.eq(art["slug"], slug, f"{name}: slug reported")
    key = (art["title"], art["body"])
    if name in FIXTURES:
        title, category, body = FIXTURES[name]
        tap.eq(art["title"], title, f"{name}: title")
        tap.eq(art["category"], category, f"{name}: category")
        tap.eq(art["body"], body, f"{name}: body")
        key = (title, body)
        if name in FIXTURE_SLUGS and key not in seen:
            tap.eq(slug, FIXTURE_SLUGS[name], f"{name}: slug")
    if key in seen:
        tap.eq((outcome, art_id), ("exists", seen[key]), f"{name}: same text as an earlier file")
        tap.eq(count(srv), before, f"{name}: nothing created")
    else:
        tap.eq(outcome, "created", f"{name}: outcome")
        tap.eq(count(srv), before + 1, f"{name}: one article created")
        seen[key] = art_id


def write(folder, name, data):
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_mixed_batch(srv, db, folder):
    good = write(folder, "good-one.txt",
                 "Harbour lights switched on early\n\nHarbour lights switched on early\n\n"
                 "The lights along the\nharbour wall came on\nan hour early.\n\n"
                 "Nobody complained.\n\nSource link\n\nPosted in\n\nHarbour News\n\n"
                 "Leave a Comment\n")
    empty = write(folder, "bad-empty.txt", "")
    broken = write(folder, "bad-bytes.txt", b"Title\n\n\xff\xfe body\n")
    headline = write(folder, "bad-headline.txt", "Only a headline\n")
    missing = os.path.join(folder, "does-not-exist.txt")
    plain = write(folder, "good-two.txt", "Plain title only once\n\nA single paragraph.\n")
    before = count(srv)
    proc, outcomes = import_files(db, [empty, good, broken, missing, headline, plain])
    tap.eq(proc.returncode, 1, "exit status with bad files; " + describe(proc))
    tap.eq([o[0] for o in outcomes], ["created", "created"], "the good files still import")
    for bad in (empty, broken, missing, headline):
        tap.check(os.path.basename(bad) in proc.stderr,
                  f"stderr does not name {os.path.basename(bad)}: {proc.stderr!r}")
    tap.eq(count(srv), before + 2, "article count")
    if len(outcomes) == 2:
        art = article(srv, outcomes[0][1])
        tap.eq(art["title"], "Harbour lights switched on early", "title")
        tap.eq(art["slug"], "harbour-lights-switched-on-early", "slug")
        tap.eq(art["body"], "The lights along the harbour wall came on an hour early.\n\n"
                            "Nobody complained.", "body with folded lines")
        tap.eq(art["category"], "Harbour News", "category")
        art = article(srv, outcomes[1][1])
        tap.eq((art["title"], art["body"], art["category"]),
               ("Plain title only once", "A single paragraph.", ""), "plain file")
    # The same title with another body is another article.
    changed = write(folder, "changed.txt",
                    "Harbour lights switched on early\n\nA different story.\n")
    proc, outcomes = import_files(db, [changed])
    tap.eq(proc.returncode, 0, "changed body; " + describe(proc))
    tap.eq([(o[0], o[2]) for o in outcomes],
           [("created", "harbour-lights-switched-on-early-2")], "changed body outcome")


def session():
    with tempfile.TemporaryDirectory(prefix="newsd-import-") as folder:
        db = scratch_db(folder, "news")
        samples = samples_dir()
        sample = os.path.join(samples, "lavrov-pyongyang.txt") if samples else None
        sample_id = None
        if sample and os.path.isfile(sample):
            sample_id = tap.run("import the shared sample into a new database",
                                test_sample_import, db, sample)
        else:
            tap.skip("import the shared sample", "no samples folder in this checkout")
        with Server(BIN, db=db) as srv:
            if sample_id:
                tap.run("the sample over HTTP", test_sample_http, srv, sample, sample_id)
                tap.run("re-importing the sample creates nothing", test_reimport, srv, db,
                        sample, sample_id)
            else:
                tap.skip("the sample over HTTP", "no sample imported")
            demo = sorted(glob.glob(os.path.join(source_root(), "config", "demo", "*.txt")))
            if demo:
                tap.run(f"the {len(demo)} demo articles", test_demo, srv, db, demo)
            else:
                tap.skip("the demo articles", "no config/demo/*.txt")
            fixtures = sorted(glob.glob(os.path.join(source_root(), "tests", "fixtures", "*.txt")))
            seen = {}
            if sample_id:
                seen[(LAVROV, sample_body(sample))] = sample_id
            for path in fixtures:
                tap.run(f"fixture {os.path.basename(path)}", test_fixture, srv, db, path, seen)
            if not fixtures:
                tap.skip("fixtures", "no tests/fixtures/*.txt")
            tap.run("bad files fail the run, good ones still import", test_mixed_batch, srv, db,
                    folder)
            tap.stop_server(srv)


tap.run("import session", session)
tap.done()
