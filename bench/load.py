"""`python -m bench.load`: many visitors on one hosted server at once, in real Chromium.

Starts `streamlit run dashboard/app.py` with `LME_PUBLIC=1` on a free loopback port (nothing
leaves the machine), then, all at the same moment, `--visitors` browser contexts that each
upload `--predictions` digits on Predict one after the other, and `--trainers` contexts that
each start a training on Train. It reports prediction latency (upload to verdict on the page,
median and p95), how long each training waited in the queue and how it ended, the server's
memory (resident set, before, peak and after), any error shown on a page or written to the
server log, and what any visitor could see of another's runs. Everything is bounded by
`--timeout` seconds.

    python -m bench.load                              # 20 visitors, 4 trainers
    python -m bench.load --visitors 6 --trainers 2    # a smaller round
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.server import streamlit_server

CHROMIUM = os.environ.get("LME_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
DEMO_RUNS = {"demo", "demo-softmax", "demo-pairs"}  # engine.runs.DEMO_RUNS, without torch


@dataclass
class LoadReport:
    visitors: int
    trainers: int
    predictions: list[float] = field(default_factory=list)  # seconds, upload to verdict
    wrong_verdicts: int = 0
    queue_waits: list[float] = field(default_factory=list)  # seconds waiting for a slot
    trainings: list[str] = field(default_factory=list)  # how each ended, with its time
    page_errors: int = 0
    log_tracebacks: int = 0
    foreign_runs_seen: int = 0  # runs of another visitor in anyone's run chooser
    memory_mb: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        def pct(values: list[float], q: float) -> str:
            if not values:
                return "-"
            ordered = sorted(values)
            return f"{ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]:.2f} s"

        median = f"{statistics.median(self.predictions):.2f} s" if self.predictions else "-"
        return [
            f"| visitors predicting / starting a training | {self.visitors} / {self.trainers} |",
            f"| predictions answered | {len(self.predictions)} "
            f"({self.wrong_verdicts} with a wrong verdict) |",
            f"| prediction latency, median / p95 | {median} / {pct(self.predictions, 0.95)} |",
            "| from Start to training, queue wait included | "
            + ", ".join(f"{wait:.0f} s" for wait in self.queue_waits)
            + " |",
            "| trainings' outcomes | " + "; ".join(self.trainings) + " |",
            f"| errors on pages / tracebacks in the server log | {self.page_errors} / "
            f"{self.log_tracebacks} |",
            f"| runs of another visitor seen by anyone | {self.foreign_runs_seen} |",
            "| server memory (RSS): before / peak / after | "
            f"{self.memory_mb.get('before', 0):.0f} / {self.memory_mb.get('peak', 0):.0f} / "
            f"{self.memory_mb.get('after', 0):.0f} MB |",
            f"| whole round | {self.seconds:.0f} s |",
        ]


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _digits(count: int) -> list[tuple[bytes, str]]:
    """Validation digits of the demo run that it reads clearly, with their class."""
    from PIL import Image

    from engine.prediction import predict_images, verdict_text
    from engine.runs import RunStore

    run = RunStore(tempfile.mkdtemp(prefix="lme-load-empty-")).load_run("demo")
    targets = run.validation.targets
    classes = targets.argmax(dim=1) if targets.ndim == 2 else targets
    found: list[tuple[bytes, str]] = []
    for index in range(len(classes)):
        pixels = run.validation.images[index].numpy()[0]
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        expected = run.class_names[int(classes[index])]
        prediction = predict_images(run, [("digit.png", buffer.getvalue())])[0]
        if verdict_text(prediction) == expected and max(prediction.sigmoid) > 0.9:
            found.append((buffer.getvalue(), expected))
        if len(found) == count:
            break
    return found


async def _run_choices(page) -> list[str]:
    await page.locator('[data-testid="stSelectbox"]').first.click()
    options = page.locator('[role="option"]')
    await options.first.wait_for()
    texts = [text.strip() for text in await options.all_inner_texts()]
    await page.keyboard.press("Escape")
    return texts


async def _errors(page) -> int:
    return await page.locator('[data-testid="stException"]').count()


async def visitor(browser, url: str, digits, report: LoadReport, timeout_ms: int) -> None:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(timeout_ms)
    page = await context.new_page()
    try:
        await page.goto(f"{url}/predict")
        upload = page.locator('input[type="file"]')
        await upload.wait_for(state="attached")
        for number, (data, expected) in enumerate(digits):
            started = time.monotonic()
            await upload.set_input_files(
                files=[{"name": f"digit-{number}.png", "mimeType": "image/png", "buffer": data}]
            )
            heading = page.locator("h3").filter(has_text=re.compile(r"^Verdict: "))
            await heading.first.wait_for()
            report.predictions.append(time.monotonic() - started)
            if (await heading.first.inner_text()).strip() != f"Verdict: {expected}":
                report.wrong_verdicts += 1
        report.page_errors += await _errors(page)
        await page.goto(f"{url}/explore")
        choices = await _run_choices(page)
        report.foreign_runs_seen += len(set(choices) - DEMO_RUNS)  # a visitor trained nothing
    finally:
        await context.close()


async def trainer(browser, url: str, epochs: int, report: LoadReport, timeout_ms: int) -> None:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(timeout_ms)
    page = await context.new_page()
    try:
        await page.goto(f"{url}/train?epochs={epochs}")
        start = page.get_by_role("button", name="Start training")
        await start.wait_for()
        clicked = time.monotonic()
        await start.click()
        training = page.get_by_text(re.compile(r"^(Training|Preparing): epoch"))
        await training.first.wait_for()
        report.queue_waits.append(time.monotonic() - clicked)
        outcome = page.get_by_text(re.compile(r"^(Done: |Stopped after|Training failed)"))
        await outcome.first.wait_for()
        text = (await outcome.first.inner_text()).strip()
        report.trainings.append(f"{text.split('.')[0]} ({time.monotonic() - clicked:.0f} s)")
        report.page_errors += await _errors(page)
        await page.get_by_role("button", name="Explore this run").click()
        await page.get_by_text("Delete this run").first.wait_for()
        choices = await _run_choices(page)
        report.foreign_runs_seen += max(0, len(set(choices) - DEMO_RUNS) - 1)  # its own: 1
    finally:
        await context.close()


async def run_load(args: argparse.Namespace) -> LoadReport:
    from playwright.async_api import async_playwright

    report = LoadReport(visitors=args.visitors, trainers=args.trainers)
    folder = Path(tempfile.mkdtemp(prefix="lme-load-"))
    runs_dir = folder / "runs"
    log_path = folder / "server.log"
    digits = _digits(max(args.predictions, 1) * 3)
    samples: list[float] = []
    settings = {"LME_PUBLIC": "1", "LME_UPLOADS_DIR": str(folder / "uploads")}
    with streamlit_server(runs_dir, log_path, **settings) as (url, pid):
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            warm = await browser.new_page()  # every page once, so "before" is a served app
            for path in ("", "predict", "explore", "train"):
                await warm.goto(f"{url}/{path}")
                await warm.wait_for_timeout(1500)
            await warm.close()
            report.memory_mb["before"] = _rss_mb(pid)

            async def sample() -> None:
                while True:
                    samples.append(_rss_mb(pid))
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample())
            started = time.monotonic()
            timeout_ms = int(args.timeout * 1000)
            work = [
                visitor(
                    browser,
                    url,
                    [
                        digits[(n * args.predictions + k) % len(digits)]
                        for k in range(args.predictions)
                    ],
                    report,
                    timeout_ms,
                )
                for n in range(args.visitors)
            ]
            work += [
                trainer(browser, url, args.epochs, report, timeout_ms) for _ in range(args.trainers)
            ]
            results = await asyncio.wait_for(
                asyncio.gather(*work, return_exceptions=True), args.timeout
            )
            report.page_errors += sum(1 for result in results if isinstance(result, Exception))
            for result in results:
                if isinstance(result, Exception):
                    print(f"a visitor failed: {type(result).__name__}: {result}"[:300])
            report.seconds = time.monotonic() - started
            sampler.cancel()
            await browser.close()
        await asyncio.sleep(2)
        report.memory_mb["peak"] = max(samples or [0.0])
        report.memory_mb["after"] = _rss_mb(pid)
    report.log_tracebacks = log_path.read_text(errors="replace").count("Traceback")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--visitors", type=int, default=20, help="visitors predicting")
    parser.add_argument("--trainers", type=int, default=4, help="visitors starting a training")
    parser.add_argument("--predictions", type=int, default=2, help="uploads per visitor")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each training")
    parser.add_argument("--timeout", type=float, default=600, help="bound on the whole round")
    parser.add_argument("--json", metavar="PATH", help="also save the figures as JSON")
    args = parser.parse_args(argv)
    report = asyncio.run(run_load(args))
    print("| measurement | value |\n|---|---|")
    print("\n".join(report.lines()))
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
