"""Remake ``docs/images/dashboard.png``: run the demo (fake upstream, proxy, realistic traffic) for a while,
then photograph the dashboard in headless chromium.

    .venv/bin/python -m tests.dashboard.screenshot [--seconds 75] [--route default] [--out docs/images/dashboard.png]

Not a test (pytest does not collect it); it needs the same chromium and Playwright as the browser tests.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tiered.demo import DemoConfig, running_demo

from .conftest import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--route", default="default")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1180)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "dashboard.png")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="tiered-shot-") as home:
        os.environ["TIERED_HOME"] = home
        config = DemoConfig(home=Path(home), port=0, data_dir=ROOT.parent / "shared" / "data")
        with running_demo(config) as demo:
            time.sleep(args.seconds)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.goto(f"{demo.url}/dashboard#route={args.route}&window=15m")
                page.fill("#login-key", demo.admin_key)
                page.click("#login-form button[type=submit]")
                page.wait_for_selector("body[data-refreshes]")
                page.wait_for_timeout(500)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
                browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
