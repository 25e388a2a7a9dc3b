#!/usr/bin/env python3
"""Writes each ```cpp block of README.md as a C++ file of its own, for the readme.snippet_compiles.* tests.

How a block is wrapped (the README follows this; nothing else is added to it):
- its leading `#include` lines open the file, so a snippet sees only what it includes itself;
- the rest becomes the body of a function, as a user pastes it into one (statements, local
  aliases, `namespace lf = longform;`);
- `<!-- snippet: file scope -->` on the line before a block puts the whole block in the file as it
  is, for snippets that define classes or functions;
- `#line` directives map the code back to README.md, so a compiler error names the README's line.

Files are named after the heading above the block (`downstream_evaluation.cpp`; a second block
under one heading gets `_2`). A file whose text has not changed is not rewritten, so only edited
snippets recompile.

Usage: extract_snippets.py README.md OUT_DIR. Prints the files, one a line.
"""
import pathlib
import re
import sys

FILE_SCOPE = "<!-- snippet: file scope -->"


def snippets(lines):
    """(heading, file_scope, first_line_number, code_lines) of every ```cpp block."""
    heading, fenced, i = "readme", False, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#") and not fenced:
            heading = line.lstrip("#").strip()
        if line.startswith("```") and line.strip() != "```cpp":
            fenced = not fenced  # another language's block: its '#' lines are no headings
        elif line.strip() == "```cpp":
            end = i + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            if end == len(lines):
                sys.exit(f"README.md:{i + 1}: a ```cpp block that never closes")
            previous = next((l.strip() for l in reversed(lines[:i]) if l.strip()), "")
            yield heading, previous == FILE_SCOPE, i + 2, lines[i + 1:end]
            i = end
        i += 1


def translation_unit(readme, file_scope, first, code):
    where = lambda n: f'#line {n} "{readme}"'
    head = 0
    while head < len(code) and (code[head].startswith("#include") or not code[head].strip()):
        head += 1
    out = ["// Generated from README.md by tests/readme/extract_snippets.py; edit the README, not this.", where(first)]
    if file_scope:
        return "\n".join(out + code) + "\n"
    out += code[:head]
    out += ["void readme_snippet() {", where(first + head)] + code[head:] + ["}"]
    return "\n".join(out) + "\n"


def main():
    readme, out_dir = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    taken = {}
    for heading, file_scope, first, code in snippets(readme.read_text(encoding="utf-8").splitlines()):
        stem = re.sub(r"[^a-z0-9]+", "_", heading.lower()).strip("_")[:40].rstrip("_") or "snippet"
        taken[stem] = taken.get(stem, 0) + 1
        if taken[stem] > 1:
            stem += f"_{taken[stem]}"
        path = out_dir / f"{stem}.cpp"
        text = translation_unit(readme, file_scope, first, code)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main()
