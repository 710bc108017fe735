#!/usr/bin/env python3
"""make lint-docs: keeps the documentation true to the tree.

- every relative link and `#anchor` in README.md, BENCHMARKS.md and docs/*.md resolves: the file
  exists, and the anchor is one of its headings as GitHub turns them into ids, other than the
  page's own title (a `#lambda-mode` on the page titled "Lambda mode" resolves, but it is never
  what was meant);
- every environment variable the service reads (a `pub const NAME: &str = "NAME"` in
  src/config.rs) has a row in the README's configuration table;
- a variable's default is stated the same way everywhere: each other table with a default column
  (docs/, the doc comment of src/config.rs) and each "`NAME` (... default ...)" in prose agrees with
  the README's table, which tests/api/docs.rs holds to the defaults the code uses;
- no page but BENCHMARKS.md states the zip's size: it changes with every build, and only a
  `make bench` run, dated, says what it was;
- docs/ARCHITECTURE.md's module table names exactly what each module of src/ imports;
- every target `make help` lists is documented somewhere: `make TARGET` appears in the README or
  a page of docs/.

Standard library only. Run from anywhere; prints one line per problem and a summary, exits 1 on any.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]
problems = []


def without_code(text):
    """The text with fenced code blocks and inline code blanked, so links in examples don't count."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading):
    """GitHub's heading id: lower case, punctuation other than - and _ dropped, spaces to -."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    """Every id GitHub gives the headings of `path`, with -1, -2 for repeats, and the title's id
    (the first heading's, when it is a `#` heading)."""
    seen, ids, title = {}, set(), None
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    for number, match in enumerate(re.finditer(r"^(#{1,6}) +(.+?) *#*$", text, flags=re.M)):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        ids.add(base if count == 0 else f"{base}-{count}")
        if number == 0 and match.group(1) == "#":
            title = base
    return ids, title


def links(text):
    """Inline link targets and reference definitions."""
    inline = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    references = re.findall(r"^\[[^\]]+\]:\s*(\S+)", text, flags=re.M)
    return inline + references


for page in PAGES:
    for target in links(without_code(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        where = f"{page.relative_to(ROOT)}: link {target}"
        if not resolved.exists():
            problems.append(f"{where}: {path} does not exist")
        elif anchor and resolved.suffix == ".md":
            ids, title = anchors(resolved)
            if anchor not in ids:
                problems.append(f"{where}: {resolved.relative_to(ROOT)} has no heading #{anchor}")
            elif anchor == title:
                problems.append(
                    f"{where}: #{anchor} is the title of {resolved.relative_to(ROOT)}, not a section of it: "
                    "link the page itself, or the section meant (another page's heading of that name?)"
                )

config = (ROOT / "src/config.rs").read_text()
variables = re.findall(r'pub const ([A-Z_]+): &str = "\1";', config)
readme = (ROOT / "README.md").read_text()
table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
for variable in variables:
    if f"`{variable}`" not in table:
        problems.append(f"README.md: the configuration table has no row for {variable}, which src/config.rs reads")


def cells(row):
    """A Markdown table row's cells, without the outer pipes."""
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def stated(text):
    """What a default cell or a parenthesis says: its code spans and figures, or, without
    either, its first word ("unset"), so `10` and `10` agree and `/` and "empty" do not."""
    # A `NAME=value` span is a condition ("6,287,360 with `LAMBDA_INVOKE_MODE=response_stream`").
    spans = [span for span in re.findall(r"`([^`]+)`", text) if not re.match(r"[A-Z][A-Z0-9_]*=", span)]
    figures = [f.replace(",", "") for f in re.findall(r"(?<![\w`])\d[\d,]*(?![\w`])", re.sub(r"`[^`]*`", "", text))]
    if spans or figures:
        return set(spans) | set(figures)
    words = re.findall(r"[a-z]+", text.lower())
    return {words[0]} if words else set()


def default_rows(text, prefix=""):
    """{variable: default cell} of every table whose header row has a `default` column."""
    rows, column = {}, None
    for line in text.splitlines():
        stripped = line.strip()
        line = stripped.removeprefix(prefix).strip() if stripped.startswith(prefix) else ""
        if not line.startswith("|"):
            column = None
            continue
        row = cells(line)
        if column is None and "default" in row:
            column = row.index("default")
        elif column is not None and len(row) > column and not set(row[0]) <= set("-: "):
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0]):
                rows[name] = row[column]
    return rows


readme_defaults = {name: cell for name, cell in default_rows(readme).items() if name in variables}
elsewhere = [(page, default_rows(page.read_text())) for page in PAGES if page.name != "README.md"]
elsewhere.append((ROOT / "src/config.rs", default_rows(config, prefix="///")))
for page, rows in elsewhere:
    for name, cell in rows.items():
        if name in readme_defaults and stated(cell) != stated(readme_defaults[name]):
            problems.append(
                f"{page.relative_to(ROOT)}: {name}'s default is {cell!r}, the README's table says {readme_defaults[name]!r}"
            )
for page in PAGES:
    for name, said in re.findall(r"`([A-Z][A-Z0-9_]+)`\s*\(([^()]*\bdefault\b[^()]*)\)", page.read_text()):
        if name in readme_defaults and not stated(said) <= stated(readme_defaults[name]):
            problems.append(
                f"{page.relative_to(ROOT)}: `{name}` ({said}) disagrees with the README's default {readme_defaults[name]!r}"
            )

ZIP_SIZE = re.compile(r"\bzip\b[^.|]*?\d[\d,.]*\s*(?:[KM]i?B|bytes)\b|\d[\d,.]*\s*(?:[KM]i?B|bytes)\b[^.|]*?\bzip\b", re.I)
for page in PAGES:
    if page.name == "BENCHMARKS.md":
        continue
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if ZIP_SIZE.search(line):
            problems.append(
                f"{page.relative_to(ROOT)}:{number}: states the zip's size, which changes with every build; "
                "point to BENCHMARKS.md (make bench measures it) instead"
            )

# docs/ARCHITECTURE.md's module table against what each module of src/ imports (comments, where
# doc links name modules too, left out).
def crate_imports(module):
    files = [ROOT / f"src/{module}.rs"] if (ROOT / f"src/{module}.rs").exists() else sorted((ROOT / f"src/{module}").glob("*.rs"))
    code = "\n".join(line for f in files for line in f.read_text().splitlines() if not line.strip().startswith("//"))
    found = set(re.findall(r"crate::([a-z_]+)", code))
    for group in re.findall(r"crate::\{([^}]*)\}", code):
        found |= {name.strip().split("::")[0] for name in group.split(",") if name.strip()}
    return found - {module}


architecture = (ROOT / "docs/ARCHITECTURE.md").read_text()
graph = architecture.split("## Module graph", 1)[-1].split("\n## ", 1)[0]
drawn = {}
for line in graph.splitlines():
    row = cells(line) if line.startswith("| `") else None
    if row and len(row) == 2:
        for module in re.findall(r"`([a-z_]+)`", row[0]):
            drawn[module] = set(re.findall(r"`([a-z_]+)`", row[1]))
modules = sorted(p.stem for p in (ROOT / "src").iterdir() if p.stem not in ("lib", "main"))
for module in modules:
    imports = crate_imports(module)
    if module not in drawn:
        problems.append(f"docs/ARCHITECTURE.md: the module table has no row for {module}")
    elif drawn[module] != imports:
        problems.append(
            f"docs/ARCHITECTURE.md: {module} imports {sorted(imports)}, the module table says {sorted(drawn[module])}"
        )

makefile = (ROOT / "Makefile").read_text()
targets = re.findall(r"^([a-zA-Z0-9_-]+):.*## ", makefile, flags=re.M)
documented = "\n".join(p.read_text() for p in PAGES)
for target in targets:
    if not re.search(rf"make {re.escape(target)}\b|`{re.escape(target)}`", documented):
        problems.append(f"make {target} (in make help) is documented nowhere in README.md or docs/")

for problem in problems:
    print(f"FAIL {problem}")
checked = len(PAGES)
print(f"lint-docs: {checked} pages, {len(variables)} variables, {len(targets)} make targets; {len(problems)} problems")
sys.exit(1 if problems else 0)
