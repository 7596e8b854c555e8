"""Remake the dashboard's pictures under ``docs/images/``: run the demo (fake upstream, proxy, realistic
traffic) for a while, then photograph the page in headless chromium: the overview (``dashboard.png``), the
grading view (``dashboard-grading.png``) and an escalated decision's detail (``dashboard-detail.png``).

    .venv/bin/python -m tests.dashboard.screenshot [--seconds 75] [--route default] [--out docs/images] [--data DIR]

Not a test (pytest does not collect it); it needs the same chromium and Playwright as the browser tests.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from tiered.demo import DemoConfig, running_demo

from .conftest import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--route", default="default")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1180)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="tiered-shot-") as home:
        os.environ["TIERED_HOME"] = home
        config = DemoConfig(home=Path(home), port=0, data_dir=args.data)
        with running_demo(config) as demo:
            time.sleep(args.seconds)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.goto(f"{demo.url}/dashboard#route={args.route}&window=15m&refresh=0")
                page.fill("#login-key", demo.admin_key)
                page.click("#login-form button[type=submit]")
                page.wait_for_selector("body[data-refreshes]")
                page.wait_for_timeout(500)
                args.out.mkdir(parents=True, exist_ok=True)
                shoot(page, args.out / "dashboard.png")
                shoot(page, args.out / "dashboard-decisions.png", full_page=True)
                page.select_option("#decision-outcome", "escalated")
                page.wait_for_timeout(500)
                page.locator("#decisions tbody tr").first.click()
                page.wait_for_selector("#detail [data-detail=attempts] tbody tr")
                shoot(page, args.out / "dashboard-detail.png")
                page.click("#detail-close")
                page.click('button[data-view="grading"]')
                page.wait_for_selector("#audits .audit")
                page.wait_for_timeout(300)
                shoot(page, args.out / "dashboard-grading.png")
                browser.close()


def shoot(page: Any, path: Path, *, full_page: bool = False) -> None:
    page.screenshot(path=str(path), full_page=full_page)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
