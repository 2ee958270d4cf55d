"""An unattended validator's health, end to end: a running `crucible
validator` on a local chain whose bridge (the bridge's own heartbeat and
weights submitter, against its fake chain) stops and starts again, and whose
metagraph.json is left half-written.

  - fresh: /healthz 200, weights written and reported delivered, no alert of
    examples/prometheus/crucible-alerts.yml firing;
  - every miner in metrics.jsonl and /history.json with its status, the
    pre-evaluation failures (not-found, hash-mismatch, bad-commitment,
    missing-commitment) included;
  - bridge stopped past --chain-stale-after: /healthz 503 with the reason,
    crucible_chain_stale 1, a warning in the log, no weights written, and the
    alerts that should fire do; bridge back: all of it clears, weights resume;
  - metagraph.json half-written past the threshold: the same, naming the file.

    /usr/bin/python3 tests/python/validator_health_test.py PATH_TO_CRUCIBLE
"""
import json
import logging
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402
from validator_harness import (HOTKEY, Bridge, NativeSetup, read_text, status_port,  # noqa: E402
                               stop, wait_for, write_json)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ALERTS = os.path.join(ROOT, "examples", "prometheus", "crucible-alerts.yml")
STALE_AFTER = 3.0


def get(port, path):
    """(status, body) of GET path; (None, error) when nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, str(e)


SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


def scrape(port):
    """{metric name: value} of /metrics (a labelled family: its last sample)."""
    _, text = get(port, "/metrics")
    samples = {}
    for line in text.splitlines():
        found = SAMPLE.match(line)
        if found:
            samples[found.group(1)] = float(found.group(3))
    return samples


def load_alerts():
    """[(name, expr)] of the rules file: each rule's `- alert:` and `expr:` lines."""
    alerts, name = [], None
    for line in open(ALERTS):
        found = re.match(r"\s*- alert: (\S+)", line)
        if found:
            name = found.group(1)
        found = re.match(r"\s*expr: (.+)$", line)
        if found and name:
            alerts.append((name, found.group(1).strip()))
            name = None
    return alerts


EXPR = re.compile(r"^(time\(\) - )?([a-z_]+) (==|>=|>) ([0-9.]+)$")


def firing(samples, now):
    """The alerts whose expression holds for `samples` at unix time `now`
    (the `for:` durations aside). Every expression must be one this
    evaluator understands: `[time() - ]metric OP number`."""
    fired = set()
    for name, expr in load_alerts():
        found = EXPR.match(expr)
        assert found, "%s: expression not understood: %s" % (name, expr)
        since, metric, op, bound = found.groups()
        if metric not in samples:
            continue  # an absent series fires nothing in Prometheus either
        value = now - samples[metric] if since else samples[metric]
        bound = float(bound)
        if {"==": value == bound, ">=": value >= bound, ">": value > bound}[op]:
            fired.add(name)
    return fired


def weights_lines(chain_dir):
    path = os.path.join(chain_dir, "weights.jsonl")
    return len(open(path).read().splitlines()) if os.path.exists(path) else 0


def check_miner_rows(report, state, port, failing):
    """Every failing miner's status, in the last step record and in /history.json."""
    lines = [json.loads(line) for line in open(os.path.join(state, "metrics.jsonl"))]
    last = {m["uid"]: m for m in lines[-1]["models"]}
    for uid, status in failing.items():
        row = last.get(uid, {})
        report.check("metrics.jsonl: uid %d is %s with a reason" % (uid, status),
                     row.get("status") == status and (row.get("reason") or status ==
                                                      "missing-commitment"), str(row))
    # The two native miners and the failing ones; uid 0, the validator, is no miner.
    report.check("metrics.jsonl: a row per miner, hotkey and model in each",
                 all(m.get("hotkey") and "model" in m for m in lines[-1]["models"]) and
                 len(last) == 2 + len(failing), str(sorted(last)))
    report.check("metrics.jsonl: the seed is also a string",
                 lines[-1].get("seed_text") == str(lines[-1]["seed"]), str(lines[-1].get("seed")))
    _, body = get(port, "/history.json")
    history = json.loads(body)
    statuses = {m["uid"]: m["status"] for m in history.get("miners", [])}
    report.check("/history.json: every failing miner with its status",
                 all(statuses.get(uid) == status for uid, status in failing.items()),
                 str(statuses))
    report.check("/history.json: failures by reason include the pre-evaluation ones",
                 set(failing.values()) <= set(history["failures"]), str(list(history["failures"])))


def check_stale_and_back(report, port, log, chain, bridge, cause, make_stale, make_fresh, name):
    make_stale()
    code = [None]

    def unhealthy():
        code[0], body = get(port, "/healthz")
        code.append(body)
        return code[0] == 503 and "chain stale" in body
    report.check("%s: /healthz 503 within the threshold and a poll" % name,
                 wait_for(unhealthy, STALE_AFTER + 10), str(code))
    _, body = get(port, "/healthz")
    report.check("%s: /healthz says why" % name, cause in body, body)
    samples = scrape(port)
    report.check("%s: crucible_chain_stale 1" % name, samples.get("crucible_chain_stale") == 1,
                 str(samples.get("crucible_chain_stale")))
    report.check("%s: the log warns" % name,
                 re.search(r"\[warn(ing)?\].*chain stale: .*" + re.escape(cause), read_text(log))
                 is not None, read_text(log)[-1500:])
    status = json.loads(get(port, "/status")[1])
    report.check("%s: /status says stale" % name,
                 status["chain"]["stale"] and not status["healthy"], str(status["chain"]))
    time.sleep(1.5)  # an attempt already under way when it turned stale lands
    before = weights_lines(chain)
    time.sleep(3)
    report.check("%s: no weights written while stale" % name, weights_lines(chain) == before,
                 "%d -> %d" % (before, weights_lines(chain)))
    fired = firing(scrape(port), time.time())
    report.check("%s: CrucibleChainStale and CrucibleUnhealthy fire" % name,
                 {"CrucibleChainStale", "CrucibleUnhealthy"} <= fired, str(fired))

    make_fresh()
    report.check("%s: fresh again, /healthz 200" % name,
                 wait_for(lambda: get(port, "/healthz")[0] == 200, 15), get(port, "/healthz")[1])
    report.check("%s: the log says fresh again" % name, "chain fresh again" in read_text(log))
    resumed = weights_lines(chain)
    report.check("%s: weights written again" % name,
                 wait_for(lambda: weights_lines(chain) > resumed, 15))
    return fired


def main():
    crucible = oracle.binary_from_argv()
    logging.getLogger("crucible_bridge").setLevel(logging.ERROR)  # its retries are expected here
    report = oracle.Report()
    with tempfile.TemporaryDirectory() as root:
        setup = NativeSetup(crucible, root)
        failing = setup.add_failing_miners()
        bridge = Bridge(setup.chain)
        bridge.start()
        state, log = os.path.join(root, "state"), os.path.join(root, "validator.log")
        process = setup.start(state, log, "--http-port", "0", "--chain-stale-after",
                              str(STALE_AFTER), "--weights-interval", "0.5", "--hotkey", HOTKEY)
        try:
            port = [None]

            def up():
                port[0] = status_port(log)
                return port[0] and os.path.exists(os.path.join(state, "metrics.jsonl"))
            if not report.check("validator up with a step", wait_for(up, 180),
                                read_text(log)[-2000:]):
                report.finish()
            port = port[0]
            report.check("fresh: weights reported delivered",
                         wait_for(lambda: scrape(port).get("crucible_weights_delivered") == 1, 30),
                         str(scrape(port)))
            samples = scrape(port)
            code, body = get(port, "/healthz")
            report.check("fresh: /healthz 200", code == 200, body)
            report.check("fresh: crucible_chain_stale 0", samples.get("crucible_chain_stale") == 0)
            report.check("fresh: weights submitted at the fake chain's block",
                         samples.get("crucible_weights_submitted_block", 0) > 4321, str(samples))
            fired = firing(samples, time.time())
            report.check("fresh: no alert fires", not fired, str(fired))
            check_miner_rows(report, state, port, failing)

            seen = check_stale_and_back(report, port, log, setup.chain, bridge,
                                        "the bridge last synced the chain", bridge.stop,
                                        bridge.start, "bridge stopped")
            samples = scrape(port)
            later = firing(samples, time.time() + 7201)
            seen |= later
            report.check("in 2 h without bridge, submissions or steps, those alerts fire",
                         {"CrucibleBridgeSilent", "CrucibleWeightsNotOnChain",
                          "CrucibleNoRecentStep"} <= later, str(later))
            bridge.chain.fail_next = 1000  # every set-weights call fails from now on
            report.check("submissions failing: CrucibleBridgeSubmissionsFailing fires",
                         wait_for(lambda: "CrucibleBridgeSubmissionsFailing" in
                                  firing(scrape(port), time.time()), 20))
            seen |= firing(scrape(port), time.time())
            bridge.chain.fail_next = 0

            metagraph = os.path.join(setup.chain, "metagraph.json")
            good = open(metagraph).read()

            def half_write():
                with open(metagraph, "w") as f:
                    f.write(good[:len(good) // 2])
            seen |= check_stale_and_back(report, port, log, setup.chain, bridge,
                                         "metagraph.json last read fine", half_write,
                                         lambda: write_json(metagraph, json.loads(good)),
                                         "metagraph half-written")
            all_alerts = {name for name, _ in load_alerts()}
            report.check("every alert of the rules file was seen firing", seen == all_alerts,
                         "never fired: %s" % sorted(all_alerts - seen))
        finally:
            stop(process)
            if bridge.running:
                bridge.stop()
    report.finish()


if __name__ == "__main__":
    main()
