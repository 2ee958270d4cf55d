"""Loads one HTML page in headless Chromium and reports what a test needs to
know about it: console errors and uncaught exceptions, blocked network requests,
the charts on it, and a PNG screenshot at laptop size.

    python3 tests/python/page_check.py PAGE [--screenshot OUT.png] [--timeout S]
                                             [--wait-for JS_EXPR] [--json]

PAGE is a file path or an http://127.0.0.1 / http://localhost URL. Exit status:
0 when the page loaded with no errors (or when Chromium is missing: the line
`SKIP: <reason>` is printed), 1 when it has errors, 2 on a harness failure
(Chromium would not start, timeout).

Only Debian packages are used: the `chromium` binary and the Python stdlib. The
browser is driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
NUL-terminated JSON on fds 3 and 4), so no websocket client and no TCP port are
needed. Each check starts a fresh browser with a temporary profile
(--user-data-dir, removed afterwards), --no-sandbox when run as root (and,
as another user, when the sandbox cannot start: one retry without it), and an
overall timeout; the browser is closed with Browser.close and its process group
killed if it lingers.

What is collected, and how:
  * errors (each one fails the page): every console.error / console.assert
    (Runtime.consoleAPICalled), every uncaught exception or unhandled promise
    rejection (Runtime.exceptionThrown), every browser-side error message
    (Log.entryAdded at level "error": failed resource loads, CSP, ...), a failed
    navigation, and every request the offline policy blocked. Not counted:
    console.warn and browser warnings (kept in `warnings`) and a failed
    /favicon.ico (the browser asks for it by itself).
  * offline policy: only file:, data:, blob: and http(s) to 127.0.0.1,
    localhost and [::1] are allowed. Every other request is failed by the
    harness (Fetch.requestPaused -> Fetch.failRequest, reported in `blocked`),
    and host names resolve to nothing anyway (--host-resolver-rules), so a
    page that pulls a script from a CDN fails fast instead of hanging.
  * charts, the page contract: every chart on our pages is a <canvas> inside
    an element carrying data-chart-title="..." (the title shown to the user
    may be an HTML heading or Chart.js's own title plugin; the attribute is
    the contract). `titles` lists, per <canvas> in document order, the
    data-chart-title of its closest ancestor-or-self having one (None when
    there is none). `charts` counts the canvases that Chart.js drew into
    (Chart.getChart(canvas), Chart.js 3.x), `painted` the canvases with at
    least one non-transparent pixel; a page whose charts all work has
    canvases == charts == painted and no None in titles.
  * settling: after the load event the harness waits two animation frames,
    then while any Chart.instances is animating (Chart.animator.running,
    Chart.js 3.9.1 UMD build) up to `settle_s`, then until `wait_for` (a JS
    expression, for pages that fetch their data) is truthy.
  * screenshot: the viewport is 1366x900 at device scale 1; the PNG is the
    full page (Page.captureScreenshot with captureBeyondViewport and a clip of
    the whole content size from Page.getLayoutMetrics).

In Python:

    import page_check
    reason = page_check.skip_reason()        # None when Chromium is usable
    r = page_check.check_page("out/report.html", screenshot="out/report.png")
    assert r.ok, r.errors
    assert r.titles == ["CRPS by round", "Weights"]
"""
import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path

VIEWPORT = (1366, 900)
CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser",
              "google-chrome", "google-chrome-stable")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


class PageCheckError(RuntimeError):
    """The harness itself failed: the browser did not start, a timeout, ..."""


@dataclass
class PageResult:
    url: str
    errors: list = field(default_factory=list)      # every entry fails the page
    warnings: list = field(default_factory=list)    # console.warn etc.; informational
    blocked: list = field(default_factory=list)     # URLs the offline policy refused
    canvases: int = 0
    charts: int = 0                                 # canvases with a Chart.js chart
    painted: int = 0                                # canvases with a visible pixel
    titles: list = field(default_factory=list)      # data-chart-title per canvas
    chartjs_titles: list = field(default_factory=list)  # options.plugins.title.text
    document_title: str = ""
    screenshot: str = None
    screenshot_size: tuple = None                   # (width, height) in pixels
    elapsed_s: float = 0.0

    @property
    def ok(self):
        return not self.errors


def find_chromium():
    """The Chromium executable: $CRUCIBLE_CHROMIUM, else the Debian binary, else PATH."""
    env = os.environ.get("CRUCIBLE_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for c in CANDIDATES:
        path = c if os.path.isabs(c) else shutil.which(c)
        if path and os.access(path, os.X_OK):
            return path
    return None


def skip_reason():
    """None when a page check can run, else why not (print it as `SKIP: ...`)."""
    if find_chromium() is None:
        return ("chromium not installed (apt-get install chromium, or "
                "scripts/install-deps.sh; CRUCIBLE_CHROMIUM=path overrides)")
    return None


def screenshots_folder_or_skip():
    """Where a page test keeps its screenshots: $CRUCIBLE_PAGE_CHECK_OUT, else
    ./page-check. None, after printing `SKIP: <why>`, when Chromium cannot run."""
    skip = skip_reason()
    if skip:
        print("SKIP: " + skip)
        return None
    return os.environ.get("CRUCIBLE_PAGE_CHECK_OUT", os.path.abspath("page-check"))


def to_url(page):
    """A file path or a local http URL -> the URL to load; anything else is refused."""
    s = str(page)
    if s.startswith(("http://", "https://")):
        host = urllib.parse.urlsplit(s).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"only local URLs can be checked, not {s}")
        return s
    if s.startswith("file://"):
        return s
    p = Path(s).resolve()
    if not p.is_file():
        raise ValueError(f"no such page: {p}")
    return p.as_uri()


def allowed(url):
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("file", "data", "blob", "about"):
        return True
    if scheme in ("http", "https", "ws", "wss"):
        return (urllib.parse.urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")
    return False


class _Browser:
    """One headless Chromium driven over --remote-debugging-pipe."""

    def __init__(self, deadline, no_sandbox=False):
        self.deadline = deadline
        self.profile = tempfile.mkdtemp(prefix="page-check-")
        exe = find_chromium()
        if exe is None:
            raise PageCheckError(skip_reason())
        flags = [
            "--headless", "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
            "--no-first-run", "--no-default-browser-check", "--disable-gpu",
            "--disable-dev-shm-usage", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update",
            "--disable-default-apps", "--disable-breakpad", "--mute-audio",
            "--hide-scrollbars", "--password-store=basic", "--use-mock-keychain",
            "--disable-features=Translate,MediaRouter,OptimizationHints,"
            "DialMediaRouteProvider,InterestFeedContentSuggestions",
            # Offline: names resolve to nothing; loopback stays reachable.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, "
            "EXCLUDE [::1]",
            "--window-size=%d,%d" % VIEWPORT, "--force-device-scale-factor=1",
        ]
        if no_sandbox or os.geteuid() == 0:
            flags.append("--no-sandbox")
        to_child_r, self.to_child = os.pipe()       # we write, Chromium reads fd 3
        self.from_child, from_child_w = os.pipe()   # Chromium writes fd 4, we read

        def plumb():                                # in the child, before exec
            a = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)                           # dup2 clears close-on-exec
            os.dup2(b, 4)

        self.log = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen([exe] + flags + ["about:blank"], stdin=subprocess.DEVNULL,
                                         stdout=self.log, stderr=self.log, close_fds=False,
                                         preexec_fn=plumb, start_new_session=True)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        os.set_blocking(self.from_child, False)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.fetch_session = None

    # -- protocol ---------------------------------------------------------
    def _write(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            try:
                n = os.write(self.to_child, data)
            except BrokenPipeError:
                raise PageCheckError("chromium exited: " + self.stderr_tail())
            data = data[n:]

    def _pump(self, until):
        """Reads messages until `until(msg)` is true for one; returns it."""
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                msg = json.loads(raw)
                if msg.get("method") == "Fetch.requestPaused":
                    self._on_request(msg)
                    continue
                if until(msg):
                    return msg
                if "method" in msg:
                    self.events.append(msg)
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise PageCheckError("timed out")
            r, _, _ = select.select([self.from_child], [], [], min(left, 0.5))
            if r:
                chunk = os.read(self.from_child, 1 << 20)
                if not chunk:
                    raise PageCheckError("chromium exited: " + self.stderr_tail())
                self.buf += chunk
            elif self.proc.poll() is not None:
                raise PageCheckError("chromium exited (%s): %s" % (self.proc.returncode,
                                                                   self.stderr_tail()))

    def _on_request(self, msg):
        p = msg["params"]
        url = p["request"]["url"]
        sid = msg.get("sessionId")
        self.next_id += 1
        if allowed(url):
            self._write({"id": self.next_id, "method": "Fetch.continueRequest",
                         "params": {"requestId": p["requestId"]}, "sessionId": sid})
        else:
            self.events.append({"method": "harness.blocked", "params": {"url": url}})
            self._write({"id": self.next_id, "method": "Fetch.failRequest",
                         "params": {"requestId": p["requestId"], "errorReason": "BlockedByClient"},
                         "sessionId": sid})

    def call(self, method, params=None, session=None):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._write(msg)
        reply = self._pump(lambda m: m.get("id") == mid)
        if "error" in reply:
            raise PageCheckError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def wait_event(self, method, session):
        for i, e in enumerate(self.events):
            if e.get("method") == method and e.get("sessionId") == session:
                return self.events.pop(i)
        return self._pump(lambda m: m.get("method") == method and m.get("sessionId") == session)

    def stderr_tail(self):
        try:
            self.log.seek(0)
            return self.log.read().decode(errors="replace")[-800:].strip()
        except Exception:
            return ""

    def close(self):
        try:
            if self.proc.poll() is None:
                self.deadline = time.monotonic() + 3
                try:
                    self.call("Browser.close")
                except Exception:
                    pass
                try:
                    self.proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    pass
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
            else:  # helpers (zygote, renderers) left in the group, if any
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        finally:
            for fd in (self.to_child, self.from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)


SETTLE_JS = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const frame = () => Promise.race([new Promise(r => requestAnimationFrame(() => r())), sleep(100)]);
  await frame(); await frame();
  const end = performance.now() + %(settle_ms)d;
  const animating = () => window.Chart && Chart.animator && Chart.instances &&
      Object.values(Chart.instances).some(c => Chart.animator.running(c));
  while (performance.now() < end && animating()) await sleep(50);
  const waitFor = %(wait_for)s;
  let waited = true;
  if (waitFor) {
    waited = false;
    while (performance.now() < end + %(wait_ms)d) {
      try { if (eval(waitFor)) { waited = true; break; } } catch (e) {}
      await sleep(100);
    }
    while (performance.now() < end + %(wait_ms)d && animating()) await sleep(50);
  }
  await frame();
  const canvases = [...document.querySelectorAll('canvas')];
  const painted = c => {
    try {
      if (!c.width || !c.height) return false;
      const ctx = c.getContext('2d');
      if (!ctx) return false;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
    } catch (e) {}
    return false;
  };
  const chartOf = c => window.Chart && Chart.getChart ? Chart.getChart(c) : undefined;
  return JSON.stringify({
    waited,
    canvases: canvases.length,
    charts: canvases.filter(c => chartOf(c)).length,
    painted: canvases.filter(painted).length,
    titles: canvases.map(c => { const e = c.closest('[data-chart-title]');
                                return e ? e.getAttribute('data-chart-title') : null; }),
    chartjs_titles: window.Chart && Chart.instances ? Object.values(Chart.instances).map(c => {
        const t = c.options && c.options.plugins && c.options.plugins.title;
        return t && t.display ? t.text : null; }) : [],
    document_title: document.title,
  });
})()
"""


def _describe_exception(d):
    ex = d.get("exception") or {}
    text = str(ex.get("description") or ex.get("value") or d.get("text", "exception"))
    text = text.splitlines()[0] if text else "exception"    # drop the stack
    where = d.get("url", "")
    if where:
        text += f" ({where}:{d.get('lineNumber', 0) + 1})"
    return text


def _console_text(p):
    parts = []
    for a in p.get("args", []):
        if "value" in a:
            parts.append(a["value"] if isinstance(a["value"], str) else json.dumps(a["value"]))
        else:
            parts.append(a.get("description") or a.get("type", "?"))
    return " ".join(str(x) for x in parts)


def check_page(page, screenshot=None, timeout=30.0, settle_s=3.0, wait_for=None):
    """Loads `page` and returns a PageResult; raises PageCheckError when the
    harness fails (no Chromium, timeout) and ValueError for a non-local URL."""
    url = to_url(page)
    t0 = time.monotonic()
    result = PageResult(url=url)
    b = _Browser(deadline=t0 + timeout)
    try:
        try:
            b.call("Target.setDiscoverTargets", {"discover": False})
        except PageCheckError as e:
            # Not root, and no usable sandbox (no chromium-sandbox helper, user
            # namespaces off in a container): once more without the sandbox.
            if os.geteuid() == 0 or "exited" not in str(e):
                raise
            b.close()
            b = _Browser(deadline=t0 + timeout, no_sandbox=True)
            b.call("Target.setDiscoverTargets", {"discover": False})
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for m in ("Runtime.enable", "Log.enable", "Page.enable"):
            b.call(m, session=sid)
        b.call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session=sid)
        b.call("Emulation.setDeviceMetricsOverride", {"width": VIEWPORT[0], "height": VIEWPORT[1],
                                                      "deviceScaleFactor": 1, "mobile": False},
               session=sid)
        nav = b.call("Page.navigate", {"url": url}, session=sid)
        if nav.get("errorText"):
            result.errors.append(f"navigation: {nav['errorText']}")
        else:
            b.wait_event("Page.loadEventFired", sid)
        js = SETTLE_JS % {"settle_ms": int(settle_s * 1000),
                          "wait_for": json.dumps(wait_for) if wait_for else "null",
                          "wait_ms": int(max(1.0, timeout - (time.monotonic() - t0) - 5) * 1000)}
        got = b.call("Runtime.evaluate", {"expression": js, "awaitPromise": True,
                                          "returnByValue": True}, session=sid)
        if "exceptionDetails" in got:
            raise PageCheckError("probe failed: " + _describe_exception(got["exceptionDetails"]))
        info = json.loads(got["result"]["value"])
        if not info.pop("waited"):
            result.errors.append(f"wait_for never true: {wait_for}")
        for k, v in info.items():
            setattr(result, k, v)
        if screenshot:
            m = b.call("Page.getLayoutMetrics", session=sid)
            size = m.get("cssContentSize") or m["contentSize"]
            w = max(VIEWPORT[0], int(size["width"]))
            h = max(VIEWPORT[1], int(size["height"]))
            h = min(h, 16384)                               # Skia's texture limit
            shot = b.call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}, session=sid)
            data = base64.b64decode(shot["data"])
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            Path(screenshot).write_bytes(data)
            result.screenshot = str(screenshot)
            result.screenshot_size = png_size(data)
        # Drain what arrived meanwhile (console messages come asynchronously).
        b.call("Runtime.evaluate", {"expression": "0"}, session=sid)
        for e in b.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled":
                if p.get("type") in ("error", "assert"):
                    result.errors.append("console.%s: %s" % (p["type"], _console_text(p)))
                elif p.get("type") == "warning":
                    result.warnings.append("console.warn: " + _console_text(p))
            elif m == "Runtime.exceptionThrown":
                result.errors.append("uncaught: " + _describe_exception(p["exceptionDetails"]))
            elif m == "Log.entryAdded":
                entry = p["entry"]
                text = entry.get("text", "")
                if entry.get("url"):
                    text += f" ({entry['url']})"
                if urllib.parse.urlsplit(entry.get("url", "")).path == "/favicon.ico":
                    continue        # the browser's own favicon request, not the page's
                if entry.get("level") == "error":
                    result.errors.append(f"{entry.get('source', 'log')}: {text}")
                elif entry.get("level") == "warning":
                    result.warnings.append(f"{entry.get('source', 'log')}: {text}")
            elif m == "harness.blocked":
                result.blocked.append(p["url"])
                result.errors.append("blocked (offline): " + p["url"])
            elif m == "Page.javascriptDialogOpening":
                result.errors.append("dialog: " + p.get("message", ""))
    finally:
        b.close()
    result.elapsed_s = round(time.monotonic() - t0, 3)
    return result


def png_size(data):
    """(width, height) of PNG bytes, or None when they are not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page", help="HTML file path or http://127.0.0.1 URL")
    ap.add_argument("--screenshot", help="PNG output path (full page, 1366 wide)")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--settle", type=float, default=3.0, help="max seconds of chart animation")
    ap.add_argument("--wait-for", help="JS expression to wait for before collecting")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    reason = skip_reason()
    if reason:
        print("SKIP: " + reason)
        return 0
    try:
        r = check_page(args.page, args.screenshot, args.timeout, args.settle, args.wait_for)
    except (PageCheckError, ValueError) as e:
        print(f"page_check: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(asdict(r), indent=2))
    else:
        print(f"{r.url}: {'OK' if r.ok else 'FAILED'} in {r.elapsed_s}s; {r.canvases} canvases, "
              f"{r.charts} charts, {r.painted} painted")
        for t in r.titles:
            print(f"  chart: {t!r}")
        for e in r.errors:
            print(f"  error: {e}")
        for w in r.warnings:
            print(f"  warning: {w}")
        if r.screenshot:
            print(f"  screenshot: {r.screenshot} {r.screenshot_size}")
    return 0 if r.ok else 1


if __name__ == "__main__":
    sys.exit(main())
