"""Checks the page harness (tests/python/page_check.py) on hand-made pages:

  * a good page that inlines Debian's Chart.js and draws two titled charts, far
    enough down that the full-page screenshot is taller than the viewport:
    no errors, 2 canvases, 2 charts drawn, both titles, a 1366-wide PNG;
  * the same page over http://127.0.0.1 (loopback is allowed offline);
  * a page with a console.error, an uncaught exception and an untitled
    canvas: each one is reported;
  * a page that loads a script from the internet: blocked and reported, fast.

    python3 tests/python/page_check_test.py

Prints SKIP and exits 0 without chromium or libjs-chart.js. The good page's
screenshot is kept in $CRUCIBLE_PAGE_CHECK_OUT (ctest sets it to
<build>/page-check), else ./page-check; the path is printed.
"""
import functools
import http.server
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import page_check  # noqa: E402

CHARTJS = os.environ.get("CRUCIBLE_CHARTJS", "/usr/share/javascript/chart.js/chart.min.js")

GOOD = """<!doctype html>
<html><head><meta charset="utf-8"><title>good</title>
<script>%(chartjs)s</script>
<style>body { font-family: sans-serif; margin: 20px; } .chart { height: 420px; }</style>
</head><body>
<h1>Two charts</h1>
<div class="chart" data-chart-title="CRPS by round"><canvas id="crps"></canvas></div>
<div style="height: 700px"></div>
<div class="chart" data-chart-title="Weights"><canvas id="weights"></canvas></div>
<script>
new Chart(document.getElementById('crps'), {
  type: 'line',
  data: {labels: [1, 2, 3, 4, 5],
         datasets: [{label: 'crps', data: [0.9, 0.7, 0.75, 0.5, 0.45], borderColor: '#1f77b4'}]},
  options: {maintainAspectRatio: false,
            plugins: {title: {display: true, text: 'CRPS by round'}}}});
new Chart(document.getElementById('weights'), {
  type: 'bar',
  data: {labels: ['uid 3', 'uid 7', 'uid 9'],
         datasets: [{label: 'weight', data: [0.5, 0.3, 0.2], backgroundColor: '#ff7f0e'}]},
  options: {maintainAspectRatio: false}});
</script></body></html>
"""

BAD_JS = """<!doctype html>
<html><head><title>bad</title></head><body>
<canvas id="untitled"></canvas>
<script>
console.error('bad data:', 42);
undefinedFunction();
</script></body></html>
"""

OFFLINE = """<!doctype html>
<html><head><title>offline</title>
<script src="https://cdn.jsdelivr.net/npm/chart.js@3.9.1/dist/chart.min.js"></script>
</head><body><div data-chart-title="never"><canvas></canvas></div>
<script>new Chart(document.querySelector('canvas'), {type: 'line', data: {datasets: []}});</script>
</body></html>
"""

failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def serve(root):
    """A loopback HTTP server on root; returns (server, base URL)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    handler = functools.partial(Quiet, directory=str(root))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def main():
    reason = page_check.skip_reason()
    if reason is None and not os.path.isfile(CHARTJS):
        reason = f"{CHARTJS} missing (apt-get install libjs-chart.js)"
    if reason:
        print("SKIP: " + reason)
        return 0
    out = Path(os.environ.get("CRUCIBLE_PAGE_CHECK_OUT", "page-check")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="page-check-test-") as tmp:
        tmp = Path(tmp)
        chartjs = Path(CHARTJS).read_text(encoding="utf-8").replace("</script", "<\\/script")
        (tmp / "good.html").write_text(GOOD % {"chartjs": chartjs}, encoding="utf-8")
        (tmp / "bad_js.html").write_text(BAD_JS, encoding="utf-8")
        (tmp / "offline.html").write_text(OFFLINE, encoding="utf-8")

        shot = out / "good.png"
        if shot.exists():
            shot.unlink()
        r = page_check.check_page(tmp / "good.html", screenshot=shot)
        print(f"good page: {r.elapsed_s}s, errors {r.errors}, titles {r.titles}")
        expect(r.ok and r.errors == [], "good page has no errors")
        expect(r.canvases == 2 and r.charts == 2 and r.painted == 2,
               f"good page: 2 canvases, 2 charts, 2 painted ({r.canvases}, {r.charts}, {r.painted})")
        expect(r.titles == ["CRPS by round", "Weights"], f"good page titles {r.titles}")
        expect(r.chartjs_titles == ["CRPS by round", None], f"Chart.js titles {r.chartjs_titles}")
        data = shot.read_bytes() if shot.is_file() else b""
        size = page_check.png_size(data)
        expect(size is not None and len(data) > 10000, f"screenshot is a PNG ({len(data)} bytes)")
        expect(size is not None and size[0] == 1366 and size[1] > 900,
               f"screenshot is full page at 1366 wide {size}")
        print(f"screenshot: {shot}")

        srv, base = serve(tmp)
        try:
            r = page_check.check_page(base + "/good.html")
        finally:
            srv.shutdown()
        expect(r.ok and r.charts == 2 and r.titles == ["CRPS by round", "Weights"],
               f"good page over {base}: {r.errors} {r.titles}")

        r = page_check.check_page(tmp / "bad_js.html")
        print(f"bad page: {r.elapsed_s}s, errors {r.errors}")
        expect(not r.ok, "bad page fails")
        expect(any(e.startswith("console.error:") and "bad data: 42" in e for e in r.errors),
               "console.error reported")
        expect(any(e.startswith("uncaught:") and "undefinedFunction" in e for e in r.errors),
               "uncaught exception reported")
        expect(r.canvases == 1 and r.charts == 0 and r.titles == [None],
               f"untitled, undrawn canvas seen ({r.canvases}, {r.charts}, {r.titles})")

        t0 = time.monotonic()
        r = page_check.check_page(tmp / "offline.html", timeout=30)
        took = time.monotonic() - t0
        print(f"offline page: {took:.1f}s, errors {r.errors}")
        expect(any("cdn.jsdelivr.net" in u for u in r.blocked), f"internet script blocked {r.blocked}")
        expect(any("Chart is not defined" in e for e in r.errors), "its consequence reported")
        expect(took < 20, f"offline page does not hang ({took:.1f}s)")

        try:
            page_check.check_page("http://example.com/")
            expect(False, "non-local URL refused")
        except ValueError:
            expect(True, "non-local URL refused")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all page_check checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
