"""The dashboard in headless Chromium, against `osa serve` and its simulator.

Two server runs over one data dir: the first points the OPAL trigger at a dead
port, so the workflow submitted through the form is dead-lettered; the second
runs the simulator. In the second, the test submits the form with one invalid
field, fixes it, watches the nine agents complete live, opens the report,
downloads the Markdown, then on the Operations page replays its events and
redrives the first run's dead letter, and watches that workflow complete too.

Fails if the page requests any host but the OSA server's own, or throws.
Writes a screenshot of each step to --out. Stops every process it starts.
"""

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect, sync_playwright

AGENTS = 9
WAIT_MS = 60_000
expect.set_options(timeout=WAIT_MS)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Server:
    """One `osa serve --port 0` run; its banner gives the URL and the sign-in link."""

    def __init__(self, binary, data_dir, log_dir, name, *flags):
        self.name = name
        self.binary, self.data_dir = binary, data_dir
        self.stdout = log_dir / f"{name}.out.log"
        self.stderr = log_dir / f"{name}.err.log"
        command = [binary, "serve", "--port", "0", "--data-dir", str(data_dir), *flags]
        print(f"starting {name}: {' '.join(command)}", flush=True)
        with open(self.stdout, "w") as out, open(self.stderr, "w") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err)
        self.base, self.dashboard = self._banner()

    def _banner(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.stderr.read_text()[-2000:]}")
            text = self.stdout.read_text()
            base = re.search(r"OSA listening on (http://\S+)", text)
            link = re.search(r"(http://\S+/#token=\S+)", text)
            if base and link:
                return base.group(1), link.group(1)
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} printed no dashboard link within 60 s")

    def token(self, *scopes, subject):
        """A dev token with exactly these scopes (`osa token`)."""
        command = [self.binary, "token", "--data-dir", str(self.data_dir),
                   "--scope", ",".join(scopes), "--subject", subject]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()

    @property
    def origin(self):
        return origin_of(self.base)

    def stop(self):
        if self.process.returncode is not None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        print(f"stopped {self.name}", flush=True)


def origin_of(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Steps:
    def __init__(self, page, out):
        self.page = page
        self.out = out
        self.count = 0

    def shot(self, name, full_page=True):
        self.count += 1
        path = self.out / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        print(f"  screenshot {path}", flush=True)


def completed_agents(page):
    return page.locator('#agents tbody tr[data-status="completed"]').count()


def run(args):
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    data_dir = Path(tempfile.mkdtemp(prefix="osa-browser-test-"))
    servers = []
    requests = []
    page_errors = []

    def serve(name, *flags):
        server = Server(args.osa, data_dir, out, name, *flags)
        servers.append(server)
        return server

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS
            )
            try:
                context = browser.new_context(
                    accept_downloads=True, viewport={"width": 1280, "height": 900}
                )
                context.on("request", lambda r: requests.append(r.url))
                page = context.new_page()
                page.on("pageerror", lambda e: page_errors.append(str(e)))
                page.set_default_timeout(WAIT_MS)
                steps = Steps(page, out)
                scenario(page, steps, serve, out)
            finally:
                browser.close()
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    origins = {s.origin for s in servers}
    foreign = sorted(
        {u for u in requests if not u.startswith(("blob:", "data:")) and origin_of(u) not in origins}
    )
    assert not foreign, f"the page requested other hosts: {foreign}"
    assert not page_errors, f"the page threw: {page_errors}"
    print(f"{len(requests)} requests, all to OSA itself ({', '.join(sorted(origins))})")
    print(f"screenshots in {out}")


def scenario(page, steps, serve, out):
    # ---- run 1: the OPAL trigger goes to a dead port and is dead-lettered ----
    dead = serve("dead-opal", "--no-simulator", "--opal-url", "http://127.0.0.1:9/")
    sign_in(page, steps, dead)
    expect(page.locator("#new-title")).to_be_focused()
    page.click("#intake-sample")
    page.fill("#company_name", "Dead Letter Outfitters")
    page.click("#intake-submit")
    expect(page).to_have_url(re.compile(r"#/workflow/[0-9a-f-]{36}$"))
    dead_workflow = page.url.rsplit("/", 1)[1]
    # Five attempts with backoff take about 20 s.
    expect(page.locator("#wf-status")).to_have_text("failed", timeout=90_000)
    expect(page.locator("#wf-trigger")).to_contain_text("did not start")
    steps.shot("trigger-dead-lettered")
    dead.stop()

    # ---- run 2: the simulator; the main flow ----
    live = serve("simulator", "--sim-spread-ms", "6000", "--sim-reject-credentials=odp")
    page.goto(live.dashboard)
    expect(page.locator("#new-title")).to_be_focused()
    assert "token" not in page.url, f"the token stayed in the address: {page.url}"
    expect(page.locator("#who")).to_contain_text("local-developer")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('#intake-form input, #intake-form select, #intake-form textarea')]
                 .filter((c) => c.labels.length === 0).map((c) => c.id || c.name)"""
    )
    assert not unlabelled, f"form controls without a label: {unlabelled}"
    page.click("#intake-sample")
    steps.shot("new-strategy")

    # One invalid field: the API's message appears next to it.
    page.fill("#target_audience", "Hikers")
    page.click("#intake-submit")
    audience = page.locator('[data-path="business_context.target_audience"]')
    expect(audience.locator(".field-error")).to_have_text(
        "must be at least 10 characters (got 6)"
    )
    expect(page.locator("#target_audience")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#intake-summary")).to_be_visible()
    steps.shot("invalid-field")

    page.fill("#target_audience", "Outdoor enthusiasts aged 25-45 in North America")
    page.click("#intake-submit")
    expect(page).to_have_url(re.compile(r"#/workflow/[0-9a-f-]{36}$"))
    expect(page.locator("#intake-form .field-error")).to_have_count(0)
    # A reload would drop this; it must survive until the report.
    page.evaluate("() => { window.__sameDocument = true; }")

    # Watch the nine agents complete without a reload.
    seen = set()
    countdown = False
    live_shot = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = completed_agents(page)
        seen.add(done)
        if not countdown and re.search(r"\d+:\d\d left", page.locator("#agents").inner_text()):
            countdown = True
        if 0 < done < AGENTS and not live_shot:
            steps.shot("agents-live")
            live_shot = True
        if done == AGENTS:
            break
        page.wait_for_timeout(100)
    assert completed_agents(page) == AGENTS, f"agents completed: {sorted(seen)}"
    between = sorted(n for n in seen if 0 < n < AGENTS)
    assert between, f"never saw the agents part-way through, only {sorted(seen)}"
    assert countdown, "no deadline countdown was shown while agents ran"
    print(f"  completed-agent counts seen live: {sorted(seen)}", flush=True)

    expect(page.locator("#wf-status")).to_have_text("completed")
    expect(page.locator("#report")).to_be_visible()
    expect(page.locator("#recommendations tbody tr").first).to_be_visible()
    expect(page.locator("#roadmap section")).to_have_count(3)
    expect(page.locator("#report-points li").first).to_be_visible()
    expect(page.locator("#roadmap section").first).to_contain_text("Move:")
    assert page.evaluate("() => window.__sameDocument === true"), "the page reloaded"
    steps.shot("report")

    with page.expect_download() as download_info:
        page.click("#download-md")
    markdown = out / "report.md"
    download_info.value.save_as(markdown)
    text = markdown.read_text()
    assert text.startswith("# Strategy report: Acme Outdoor"), text[:200]
    assert "## Ranked recommendations" in text

    live_workflow = page.url.rsplit("/", 1)[1]
    stream_client(page, steps, live, live_workflow)

    narrow(page, steps, "narrow-workflow")

    # ---- Operations: the first run's dead letter, its history, a redrive ----
    page.click('[data-nav="ops"]')
    expect(page.locator("#ops-title")).to_be_focused()
    letter = page.locator("#dlq tbody tr")
    expect(letter).to_have_count(1)
    expect(letter).to_contain_text("OPAL trigger")
    expect(page.locator("#health tbody tr")).to_have_count(3)
    steps.shot("operations")

    letter.get_by_role("button", name=re.compile("^History")).click()
    expect(page.locator("#delivery-history tbody tr")).to_have_count(5)
    expect(page.locator("#delivery-summary")).to_contain_text("dead lettered")
    steps.shot("delivery-history")
    narrow(page, steps, "narrow-operations")

    # The dead letter fired an alert: acknowledge it, then open its runbook.
    alert_item = page.locator("#alerts-firing li[data-alert]").filter(
        has_text="Webhook Delivery Failures"
    )
    for _ in range(40):  # the server evaluates every 30 s
        if alert_item.count() == 1:
            break
        page.wait_for_timeout(1000)
        page.click("#ops-refresh")
    expect(alert_item).to_have_count(1)
    alert_item.get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(page.locator("#notice")).to_contain_text("acknowledged")
    expect(alert_item).to_contain_text("acknowledged by local-developer")
    steps.shot("alert-acknowledged")
    runbook = page.locator("#alerts-recent li").filter(has_text="Webhook Delivery Failures")
    runbook.first.get_by_role("link", name="Runbook").click()
    expect(page).to_have_url(re.compile(r"/docs/runbooks/webhook-delivery-failures$"))
    expect(page.locator("h1").first).to_be_visible()
    assert "dead" in page.content().lower(), "the runbook does not talk about dead letters"
    steps.shot("runbook")
    page.go_back()
    expect(page.locator("#ops-title")).to_be_visible()

    # The maintenance switch: on for an hour, then off again.
    page.select_option("#maintenance-hours", "1")
    page.click("#maintenance-form button[type=submit]")
    expect(page.locator("#notice")).to_have_text("Maintenance saved: it is now on.")
    expect(page.locator("#maintenance-state")).to_contain_text("Manual maintenance until")
    page.select_option("#maintenance-hours", "0")
    page.click("#maintenance-form button[type=submit]")
    expect(page.locator("#notice")).to_have_text("Maintenance saved: it is now off.")

    # Recovery: the last hour's dead letters of another kind are none (the
    # trigger stays dead-lettered); the finished workflow's events are
    # published again with their ids.
    page.select_option("#recovery-kind", "result_notification")
    page.click("#recovery-form button[value=recover]")
    expect(page.locator("#notice")).to_have_text("No dead letters to recover in that window.")
    expect(letter).to_have_count(1)
    page.fill("#recovery-workflow", live_workflow)
    page.click("#recovery-form button[value=replay]")
    expect(page.locator("#notice")).to_have_text(re.compile(r"^Replayed [1-9][0-9]* events\.$"))
    steps.shot("recovery")

    letter.get_by_role("button", name=re.compile("^Redrive")).click()
    expect(page.locator("#delivery-summary")).to_contain_text("delivered")
    expect(page.locator("#dlq-empty")).to_be_visible()
    expect(page.locator("#delivery-history tbody tr")).to_have_count(6)
    steps.shot("redriven")

    # The redriven trigger restarts that workflow; the simulator finishes it.
    page.goto(f"{live.base}/#/workflow/{dead_workflow}")
    expect(page.locator("#wf-status")).to_have_text("completed")
    expect(page.locator('#agents tbody tr[data-status="completed"]')).to_have_count(AGENTS)
    steps.shot("redriven-workflow-completed")

    refreshed_keys(page, steps)

    page.click("#force-sync")
    expect(page.locator("#notice")).to_contain_text("Force Sync")
    expect(page.locator("#alert")).to_be_hidden()
    # OPAL takes the sync: a second run starts, and the simulator finishes it.
    expect(page.locator("#wf-run")).to_contain_text("2")
    expect(page.locator("#wf-status")).to_have_text("completed")
    expect(page.locator("#wf-run")).to_contain_text("completed")
    steps.shot("force-sync-second-run")

    read_only_listing(page, steps, live)
    live.stop()


def read_only_listing(page, steps, server):
    """A read-only user lists the workflows, filters them and opens the newest."""
    page.click("#sign-out")
    expect(page.locator("#signin-title")).to_be_visible()
    page.fill("#signin-token", server.token("osa:read", subject="reader"))
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#who")).to_contain_text("reader")
    page.click('[data-nav="workflows"]')
    expect(page.locator("#workflows-title")).to_be_focused()
    rows = page.locator("#workflows tbody tr")
    expect(rows.first).to_be_visible()
    total = rows.count()
    assert total >= 3, f"the listing shows {total} workflows"
    expect(page.locator("#alert")).to_be_hidden()
    steps.shot("workflows")
    page.select_option("#workflows-status", "completed")
    page.click("#workflows-filter button[type=submit]")
    expect(page.locator('#workflows tbody tr .badge:not(.completed)')).to_have_count(0)
    expect(rows.first).to_contain_text("completed")
    narrow(page, steps, "narrow-workflows")
    newest = rows.first.locator("a").inner_text()
    rows.first.locator("a").click()
    expect(page).to_have_url(re.compile(r"#/workflow/"))
    expect(page.locator("#wf-status")).to_have_text("completed")
    # "Latest" needs only osa:read now.
    page.click("#open-latest")
    expect(page.locator("#alert")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"#/workflow/[0-9a-f-]{36}$"))
    print(f"  a reader listed {total} workflows and opened {newest}", flush=True)


def narrow(page, steps, name):
    """On a phone-sized screen nothing is wider than the screen."""
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name}: the page is {overflow}px wider than a 390px screen"
    steps.shot(name, full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})


def sign_in(page, steps, server):
    """Without a token the page asks for one; a refused one is told in words;
    the banner's link signs in and leaves no token in the address."""
    page.goto(f"{server.base}/#/ops")
    expect(page.locator("#signin-title")).to_be_focused()
    page.fill("#signin-token", "not-a-token")
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#alert")).to_contain_text("Your token was refused: the bearer token is not valid")
    expect(page.locator("#signin-title")).to_be_visible()
    steps.shot("sign-in-refused")
    token = parse_qs(urlsplit(server.dashboard).fragment)["token"][0]
    page.fill("#signin-token", token)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#ops-title")).to_be_visible()
    expect(page.locator("#who")).to_contain_text("local-developer")
    page.click("#sign-out")
    expect(page.locator("#signin-title")).to_be_visible()
    page.goto(server.dashboard)
    expect(page.locator("#new-title")).to_be_visible()
    assert "token" not in page.url, f"the token stayed in the address: {page.url}"


def refreshed_keys(page, steps):
    """An intake whose ODP key the simulated Optimizely refuses pauses as
    credentials_invalid; the refused key again is refused next to its field;
    a new key resumes the workflow, which completes."""
    page.click('[data-nav="new"]')
    page.click("#intake-sample")
    page.fill("#company_name", "Expired Key Supply")
    page.click("#intake-form details summary")
    page.fill("#optimizely_config-api_credentials-odp_key", "odp-old-key")
    page.click("#intake-submit")
    expect(page.locator("#wf-status")).to_have_text("credentials invalid")
    expect(page.locator("#credentials")).to_be_visible()
    expect(page.locator("#credentials-refused")).to_contain_text("ODP (HTTP 401)")
    page.fill("#api_credentials-odp_key", "odp-old-key")
    page.click("#credentials-form button[type=submit]")
    expect(page.locator('#credentials-form [data-path="api_credentials.odp_key"] .field-error')).to_have_text(
        "refused by odp (HTTP 401)"
    )
    steps.shot("credentials-refused")
    page.fill("#api_credentials-odp_key", "odp-new-key")
    page.click("#credentials-form button[type=submit]")
    expect(page.locator("#notice")).to_have_text("The keys were accepted and the workflow resumed.")
    expect(page.locator("#credentials")).to_be_hidden()
    expect(page.locator("#wf-status")).to_have_text("completed")
    expect(page.locator("#report")).to_be_visible()


def sse(event_id, event, data, newline="\n"):
    return f"id: {event_id}{newline}event: {event}{newline}data: {json.dumps(data)}{newline}{newline}"


def stream_client(page, steps, live, real_workflow):
    """The page's stream client against scripted streams (the browser's own
    fetch, the server's answers replaced): the typed events move the agents, an
    early end is resumed with Last-Event-ID, and report_ready shows the report."""
    token = parse_qs(urlsplit(live.dashboard).fragment)["token"][0]

    def fetch(path):
        req = urllib.request.Request(f"{live.base}{path}", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as reply:
            return json.load(reply)

    finished = fetch(f"/api/strategy/workflows/{real_workflow}")
    report = fetch(f"/api/strategy/workflows/{real_workflow}/report")
    fake = "00000000-0000-4000-8000-00000000f00d"
    finished["workflow_id"] = report["workflow_id"] = fake
    running = json.loads(json.dumps(finished))
    running.update(status="running", finished_at=None, progress_percent=0, confidence=None)
    for agent in running["agents"]:
        agent.update(status="pending", started_at=None, finished_at=None, late_result_at=None)
        agent.pop("duration_ms", None)
        agent.pop("confidence", None)
    agents = [a["agent"] for a in running["agents"]]
    at = finished["finished_at"]

    def event(agent, status):
        return {"workflow_id": fake, "agent": agent, "agent_status": status, "event_id": f"{agent}-{status}", "at": at}

    first = (
        ": a comment line, ignored\n"
        + sse(1, "connection", running)
        + sse(2, "webhook_event", event(agents[0], "running"), newline="\r\n")
        + sse(3, "webhook_event", event(agents[0], "completed"))
    )
    rest = [sse(4, "heartbeat", {"at": at})]
    rest += [sse(5 + i, "webhook_event", event(a, "completed")) for i, a in enumerate(agents[1:])]
    n = 5 + len(agents) - 1
    rest += [
        sse(n, "workflow_status", {"workflow_id": fake, "status": "completed", "at": at}),
        sse(n + 1, "report_ready", {"workflow_id": fake, "at": at}),
    ]
    resumed_from = []

    def answer(route):
        path = urlsplit(route.request.url).path
        if path.endswith("/stream"):
            resumed_from.append(route.request.headers.get("last-event-id"))
            body = first if len(resumed_from) == 1 else "".join(rest)
            route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)
        elif path.endswith("/report"):
            route.fulfill(json=report)
        else:
            route.fulfill(json=finished if len(resumed_from) > 1 else running)

    page.route(f"**/api/strategy/workflows/{fake}**", answer)
    try:
        page.evaluate(f"() => {{ location.hash = '#/workflow/{fake}'; }}")
        expect(page.locator("#wf-status")).to_have_text("completed")
        expect(page.locator('#agents tbody tr[data-status="completed"]')).to_have_count(AGENTS)
        expect(page.locator("#report")).to_be_visible()
        expect(page.locator("#wf-live")).to_have_text("Finished")
        assert resumed_from == [None, "3"], f"stream requests' Last-Event-ID: {resumed_from}"
        assert page.evaluate("() => window.__sameDocument === true"), "the page reloaded"
        page.click("#activity-count")
        steps.shot("stream-client")
    finally:
        page.unroute(f"**/api/strategy/workflows/{fake}**")
    page.evaluate(f"() => {{ location.hash = '#/workflow/{real_workflow}'; }}")
    expect(page.locator("#report")).to_be_visible()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osa", required=True, help="the osa binary")
    parser.add_argument("--chromium", required=True, help="the Chromium executable")
    parser.add_argument("--out", required=True, help="folder for screenshots and logs")
    args = parser.parse_args()
    # A SIGTERM unwinds like an error, so every process started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run(args)
    print("browser test passed")


if __name__ == "__main__":
    main()
