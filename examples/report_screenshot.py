"""Make the README's picture of the report page: ``deployable report`` on a ledger, seen in
headless Chromium.

    python examples/report_screenshot.py [--ledger sqlite:///.demo/ledger.db] [-o docs/report.png]

Run ``make demo`` first: its ledger holds the demo's own runs. The page is written by
``deployable report`` into a temporary folder, opened offline from ``file://`` in
Debian's ``/usr/bin/chromium`` through Playwright (a test dependency; no browser is
downloaded), with the newest failing verdict opened, and the top of it saved as a PNG.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def main() -> int:
    """Write the screenshot; 0 on success."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ledger", default="sqlite:///.demo/ledger.db")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--height", type=int, default=1500, help="how much of the page to keep")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "pytest_deployable", "report", "-o", folder,
                        "--ledger", args.ledger], check=True, cwd=ROOT)
        page_url = (Path(folder) / "index.html").as_uri()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
            page = context.new_page()
            page.goto(page_url)
            failing = page.locator("details.verdict").filter(has_text="NOT_DEPLOYABLE")
            if failing.count():
                failing.first.locator("summary").click()
            args.output.parent.mkdir(parents=True, exist_ok=True)
            # From the first section down: the header names this machine's ledger file,
            # which has no place in a committed picture.
            top = page.evaluate("document.getElementById('status').getBoundingClientRect().top"
                                " + window.scrollY") - 12
            height = min(args.height, page.evaluate("document.body.scrollHeight") - top)
            page.screenshot(path=str(args.output), full_page=True,
                            clip={"x": 0, "y": top, "width": 1100, "height": height})
            browser.close()
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
