#!/usr/bin/env python3
"""make lint-docs: keeps the documentation true to the tree.

- every relative link and `#anchor` in README.md, BENCHMARKS.md and docs/*.md resolves: the file
  exists, and the anchor is one of its headings as GitHub turns them into ids;
- every environment variable the service reads (a `pub const NAME: &str = "NAME"` in
  src/config.rs) has a row in the README's configuration table;
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
    """Every id GitHub gives the headings of `path`, with -1, -2 for repeats."""
    seen, ids = {}, set()
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    for match in re.finditer(r"^#{1,6} +(.+?) *#*$", text, flags=re.M):
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        ids.add(base if count == 0 else f"{base}-{count}")
    return ids


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
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where}: {resolved.relative_to(ROOT)} has no heading #{anchor}")

config = (ROOT / "src/config.rs").read_text()
variables = re.findall(r'pub const ([A-Z_]+): &str = "\1";', config)
readme = (ROOT / "README.md").read_text()
table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
for variable in variables:
    if f"`{variable}`" not in table:
        problems.append(f"README.md: the configuration table has no row for {variable}, which src/config.rs reads")

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
