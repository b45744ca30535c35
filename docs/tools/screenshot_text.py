"""Write docs/img/report-text.png: the coloured text report of the harbour example in a terminal.

Run from the repository root: `python docs/tools/screenshot_text.py`. It replays the example
with `--color always`, turns the ANSI colours into styled spans and photographs the page in the
system Chromium (/usr/bin/chromium, through Playwright), so the picture shows the bytes the
command writes, not a mock-up.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLOURS = {"31": "#ff6b6b", "32": "#69db7c", "33": "#ffd43b", "1": None, "2": None}
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def to_html(text: str) -> str:
    """ANSI-coloured text as HTML spans."""
    out, open_span = [], False
    position = 0
    for match in SGR.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        position = match.end()
        if open_span:
            out.append("</span>")
            open_span = False
        codes = [code for code in match.group(1).split(";") if code and code != "0"]
        if codes:
            style = []
            for code in codes:
                if COLOURS.get(code):
                    style.append(f"color:{COLOURS[code]}")
                elif code == "1":
                    style.append("font-weight:bold")
                elif code == "2":
                    style.append("opacity:0.7")
            out.append(f'<span style="{";".join(style)}">')
            open_span = True
    out.append(html.escape(text[position:]))
    if open_span:
        out.append("</span>")
    return "".join(out)


def main() -> int:
    command = [
        sys.executable, "-m", "slaspec", "replay", "agreements/harbour-b2b.sla",
        "examples/harbour-b2b.events.csv", "--color", "always",
    ]  # fmt: skip
    text = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    # The top of the report: the replay summary, targets and scorecard.
    shown = "\n".join(text.splitlines()[:70])
    page = (
        "<!DOCTYPE html><html><body style='margin:0;background:#1e1e1e'>"
        "<pre style='margin:0;padding:16px 20px;color:#e6e6e6;font:13px/1.35 "
        "DejaVu Sans Mono,monospace'>"
        f"<span style='color:#8a8a8a'>$ slaspec replay agreements/harbour-b2b.sla "
        f"examples/harbour-b2b.events.csv</span>\n{to_html(shown)}</pre></body></html>"
    )
    from playwright.sync_api import sync_playwright

    target = ROOT / "docs" / "img" / "report-text.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page_ = browser.new_page(viewport={"width": 1100, "height": 400})
        page_.set_content(page)
        page_.locator("pre").screenshot(path=str(target))
        browser.close()
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
