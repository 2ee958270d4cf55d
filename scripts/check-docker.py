#!/usr/bin/env python3
"""Static checks of the container files, run by scripts/check-docker.sh (which
adds hadolint). Prints one line per check, "STATUS NAME MESSAGE" (STATUS ok,
FAIL or skip), and exits 1 when a check fails. Needs no Docker daemon; PyYAML
for the compose files (else those checks read `docker compose config`'s JSON,
or are skipped). Run from the repository root.

  python3 scripts/check-docker.py [--compose CMD]   CMD: a compose v2 command line
                                                     (e.g. "docker compose"); none: skip
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import json
import os
import re
import shlex
import subprocess
import sys

try:
    import yaml
except ImportError:  # the compose checks then use `docker compose config`
    yaml = None

MAIN, CUDA12 = "docker-compose.yml", "docker-compose.cuda12.yml"
DOCS = "docs/docker.md"
LOCK = "bridge/requirements.lock"
BRIDGE_HEALTH = ["CMD", "/opt/bridge-venv/bin/python", "-m", "crucible_bridge",
                 "--check-health", "--chain-dir", "/data/chain"]
STATUS_PORT = "9184"
failed = False


def report(status, name, message):
    global failed
    print(f"{status:<5} {name:<14} {message}", flush=True)
    if status == "FAIL":
        failed = True


def verdict(name, errors, ok_message):
    if errors:
        report("FAIL", name, "; ".join(errors))
    else:
        report("ok", name, ok_message)


# --- Dockerfile ---------------------------------------------------------------

def dockerfile_instructions(path="Dockerfile"):
    """(instruction, rest of line) with continuations joined, comments dropped."""
    out, buf = [], ""
    for raw in open(path, encoding="utf-8"):
        s = raw.rstrip("\n")
        if not s.strip() or s.lstrip().startswith("#"):
            continue
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        line = buf + s
        buf = ""
        inst, _, rest = line.strip().partition(" ")
        out.append((inst.upper(), rest.strip()))
    if buf:
        inst, _, rest = buf.strip().partition(" ")
        out.append((inst.upper(), rest.strip()))
    return out


def dockerignore_patterns():
    out = []
    if os.path.exists(".dockerignore"):
        for p in open(".dockerignore", encoding="utf-8"):
            p = p.strip()
            if p and not p.startswith("#"):
                neg = p.startswith("!")
                out.append((neg, os.path.normpath(p.lstrip("!").strip("/"))))
    return out


IGNORE = dockerignore_patterns()


def ignored(path):
    """Whether .dockerignore keeps PATH (or a folder above it) out of the context."""
    parts = os.path.normpath(path).split("/")
    result = False
    for neg, pat in IGNORE:
        core = pat[3:] if pat.startswith("**/") else pat
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatchcase(prefix, pat) or (pat.startswith("**/") and any(
                    fnmatch.fnmatchcase("/".join(parts[j:i]), core) for j in range(i))):
                result = not neg
                break
    return result


class Stage:
    def __init__(self, name, image):
        self.name, self.image = name, image
        self.args, self.runs, self.cmd, self.entrypoint = {}, [], None, None
        self.healthcheck, self.expose = None, []


def exec_form(text):
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    return ["/bin/sh", "-c", text]


def parse_dockerfile():
    global_args, stages, copies = {}, [], []
    for inst, rest in dockerfile_instructions():
        if inst == "ARG":
            for w in shlex.split(rest):
                k, _, v = w.partition("=")
                (stages[-1].args if stages else global_args)[k] = v
        elif inst == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, words[0]))
        elif not stages:
            continue
        elif inst in ("COPY", "ADD"):
            copies.append((stages[-1], inst, rest))
        elif inst == "RUN":
            stages[-1].runs.append(rest)
        elif inst == "CMD":
            stages[-1].cmd = exec_form(rest)
        elif inst == "ENTRYPOINT":
            stages[-1].entrypoint = exec_form(rest)
        elif inst == "HEALTHCHECK":
            stages[-1].healthcheck = rest
        elif inst == "EXPOSE":
            stages[-1].expose += rest.split()
    return global_args, stages, copies


GLOBAL_ARGS, STAGES, COPIES = parse_dockerfile()
STAGE_NAMES = [s.name for s in STAGES]
STAGE = {s.name: s for s in STAGES}


def check_copy_sources():
    errors, count = [], 0
    for stage, inst, rest in COPIES:
        words = shlex.split(rest)
        flags = [w for w in words if w.startswith("--")]
        srcs = [w for w in words if not w.startswith("--")]
        if any(f.startswith("--from=") for f in flags):
            continue
        if rest.lstrip().startswith("[") or (srcs and srcs[0].startswith("[")):
            srcs = json.loads(rest[rest.index("["):])
        for src in srcs[:-1]:
            count += 1
            if not glob.glob(src):
                errors.append(f"{inst} {src} (stage {stage.name}): not in the repository")
            elif src not in (".", "./") and ignored(src):
                errors.append(f"{inst} {src} (stage {stage.name}): excluded by .dockerignore")
    # Files a RUN names with pip's -r in a stage that copied the whole context.
    for stage in STAGES:
        whole = any(s is stage and shlex.split(r)[-2:-1] in (["."], ["./"]) for s, _, r in COPIES)
        for run in stage.runs:
            for path in re.findall(r"(?:^|\s)-r\s+(\S+)", run):
                if whole and not path.startswith("/"):
                    count += 1
                    if not os.path.exists(path):
                        errors.append(f"RUN pip -r {path} (stage {stage.name}): not in the repository")
                    elif ignored(path):
                        errors.append(f"RUN pip -r {path} (stage {stage.name}): excluded by .dockerignore")
    verdict("copy-sources", errors, f"{count} COPY sources and pip -r files exist and are in the build context")


def check_stages():
    errors, seen = [], []
    for stage in STAGES:
        image = stage.image
        for ref in re.findall(r"\$\{?(\w+)", image):
            if not GLOBAL_ARGS.get(ref):
                errors.append(f"FROM {image}: no global ARG {ref} with a default")
        resolved = re.sub(r"\$\{?(\w+)\}?", lambda m: GLOBAL_ARGS.get(m.group(1), ""), image)
        if ":" not in resolved and "@" not in resolved and "/" not in resolved \
                and resolved.lower() not in seen and resolved != "scratch":
            errors.append(f"FROM {image}: neither a pinned image (name:tag) nor an earlier stage")
        if stage.name in seen:
            errors.append(f"stage {stage.name} defined twice")
        seen.append(stage.name)
    for stage, inst, rest in COPIES:
        for ref in re.findall(r"--from=(\S+)", rest):
            if ref.lower() not in STAGE_NAMES[:STAGE_NAMES.index(stage.name)] and not (":" in ref or "/" in ref):
                errors.append(f"{inst} --from={ref}: no earlier stage of that name")
    for target in ("runtime", "cpu"):
        if target not in STAGE_NAMES:
            errors.append(f"target {target}: no such stage")
    named = [s for s in STAGE_NAMES if not s.isdigit()]
    verdict("stages", errors, f"stages [{' '.join(named)}] resolve; the last ({named[-1] if named else '-'}) "
                              "is the default target")


def bridge_pip_installs():
    """The RUN commands' pip installs into the bridge venv."""
    out = []
    for stage in STAGES:
        for run in stage.runs:
            for m in re.finditer(r"/opt/bridge-venv/bin/pip install([^&;|]*)", run):
                out.append((stage.name, m.group(1).split()))
    return out


def check_bridge():
    errors = []
    if not os.path.isfile("bridge/crucible_bridge/__main__.py"):
        errors.append("bridge/crucible_bridge/__main__.py (python -m crucible_bridge) missing")
    if not os.path.isfile(LOCK):
        errors.append(f"{LOCK} missing (the images install the bridge's dependencies from it)")
    installs = bridge_pip_installs()
    if {s for s, _ in installs} != {"bridge-venv", "cpu"}:
        errors.append(f"bridge venv installed in stages {sorted({s for s, _ in installs})}, "
                      "expected bridge-venv and cpu")
    for stage, words in installs:
        reqs = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-r"]
        if "--require-hashes" not in words or "--no-deps" not in words \
                or not reqs or not all(r.endswith("requirements.lock") for r in reqs) \
                or any(not w.startswith("-") and (i == 0 or words[i - 1] != "-r") for i, w in enumerate(words)):
            errors.append(f"stage {stage}: pip install {' '.join(words)} (expected --no-deps "
                          f"--require-hashes -r {LOCK} and nothing else to install)")
    verdict("bridge", errors, f"python -m crucible_bridge present; both bridge venvs install {LOCK} "
                              "with --no-deps --require-hashes")


def check_cuda_arch(cuda12):
    errors = []
    build = STAGE.get("build")
    default = build.args.get("CUDA_ARCHITECTURES", "").strip('"') if build else ""
    archs = {("default", default)}
    args = (((cuda12 or {}).get("services") or {}).get("validator") or {}).get("build") or {}
    if isinstance(args, dict) and "CUDA_ARCHITECTURES" in (args.get("args") or {}):
        archs.add(("cuda12", str(args["args"]["CUDA_ARCHITECTURES"])))
    for where, value in sorted(archs):
        listed = [re.sub(r"-(real|virtual)$", "", a) for a in value.split(";") if a]
        if "75" not in listed:
            errors.append(f"CUDA_ARCHITECTURES ({where}) \"{value}\" has no 75 (T4)")
    verdict("cuda-arch", errors, f"CUDA_ARCHITECTURES \"{default}\" includes sm_75 (T4)")


def check_http_bind(main):
    errors = []
    for stage in STAGES:
        if stage.entrypoint != ["crucible"] or not stage.cmd or stage.cmd[0] != "validator":
            continue
        cmd = stage.cmd
        if "--http-bind" not in cmd or cmd[cmd.index("--http-bind") + 1] != "0.0.0.0":
            errors.append(f"stage {stage.name}: CMD has no --http-bind 0.0.0.0")
        if "--http-port" in cmd and cmd[cmd.index("--http-port") + 1] != STATUS_PORT:
            errors.append(f"stage {stage.name}: CMD moves the port off {STATUS_PORT}")
        if not stage.healthcheck or f"http://127.0.0.1:{STATUS_PORT}/healthz" not in stage.healthcheck:
            errors.append(f"stage {stage.name}: HEALTHCHECK does not ask 127.0.0.1:{STATUS_PORT}/healthz")
        if STATUS_PORT not in stage.expose:
            errors.append(f"stage {stage.name}: no EXPOSE {STATUS_PORT}")
    if main is not None:
        validator = service(main, "validator")
        cmd = command_list(validator)
        if flag_value(cmd, "--http-bind") != "0.0.0.0":
            errors.append(f"{MAIN}: validator command has no --http-bind 0.0.0.0")
        if flag_value(cmd, "--http-port") not in (None, STATUS_PORT):
            errors.append(f"{MAIN}: validator moves the port off {STATUS_PORT}")
        published = ports(validator)
        if not published:
            errors.append(f"{MAIN}: validator publishes no port {STATUS_PORT}")
        for host_ip, host_port, target in published:
            if target == STATUS_PORT and host_ip != "127.0.0.1":
                errors.append(f"{MAIN}: port {STATUS_PORT} published on {host_ip or 'every interface'}, "
                              "not the host's loopback")
    verdict("http-bind", errors, f"images' CMD and compose pass --http-bind 0.0.0.0; HEALTHCHECK asks "
                                 f"127.0.0.1:{STATUS_PORT}/healthz; compose publishes 127.0.0.1:{STATUS_PORT}"
            if main is not None else f"images' CMD pass --http-bind 0.0.0.0; HEALTHCHECK asks "
                                     f"127.0.0.1:{STATUS_PORT}/healthz (compose files not read)")


# --- compose --------------------------------------------------------------------

def interpolate(value, env):
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?msg} and $$."""
    if isinstance(value, dict):
        return {interpolate(k, env): interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1) or m.group(4), m.group(2) or "", m.group(3) or ""
        val = env.get(name)
        if op in (":-", ":?") and not val or op in ("-", "?") and val is None:
            return arg if op.endswith("-") else f"<{name} required>"
        return val or ""
    return re.sub(r"\$\$|\$\{(\w+)(:?[-?])?([^}]*)\}|\$(\w+)", sub, value)


def load_yaml(path, env):
    with open(path, encoding="utf-8") as f:
        return interpolate(yaml.safe_load(f), env)


def service(doc, name):
    return ((doc or {}).get("services") or {}).get(name) or {}


def command_list(svc):
    cmd = svc.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def flag_value(cmd, name):
    return cmd[cmd.index(name) + 1] if name in cmd and cmd.index(name) + 1 < len(cmd) else None


def ports(svc):
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append((p.get("host_ip") or "", str(p.get("published") or ""), str(p.get("target"))))
        else:
            parts = str(p).rsplit("/", 1)[0].split(":")
            target = parts[-1]
            host_port = parts[-2] if len(parts) >= 2 else ""
            host_ip = ":".join(parts[:-2]) if len(parts) >= 3 else ""
            out.append((host_ip.strip("[]"), host_port, target))
    return out


def mounts(svc):
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            out.append((parts[0], parts[1] if len(parts) > 1 else parts[0], "ro" in parts[2:]))
        else:
            out.append((v.get("source"), v.get("target"), bool(v.get("read_only"))))
    return out


def environment(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict((e.split("=", 1) + [None])[:2] for e in env)
    return env


def seconds(duration):
    """Go/compose durations: 90s, 6m, 6m0s, 1h30m, 1.5m."""
    if duration is None:
        return 0.0
    if isinstance(duration, (int, float)):
        return duration / 1e9  # compose's JSON gives nanoseconds
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    total, text = 0.0, str(duration)
    for number, unit in re.findall(r"([0-9.]+)(ms|us|µs|ns|h|m|s)", text):
        total += float(number) * units[unit]
    return total


def check_compose_structure(doc, label):
    """The checks that hold for docker-compose.yml alone and for its merge with
    the cuda12 file; DOC is PyYAML's (interpolated) or compose config's."""
    errors = {}

    def err(check, message):
        errors.setdefault(check, []).append(f"{label}: {message}")

    services = doc.get("services") or {}
    for name in ("validator", "bridge"):
        if name not in services:
            err("compose", f"no service {name}")
    validator, bridge = service(doc, "validator"), service(doc, "bridge")

    # compose: the layout that existed before these checks.
    devices = (((validator.get("deploy") or {}).get("resources") or {}).get("reservations") or {}).get("devices") or []
    if not any(d.get("driver") == "nvidia" and str(d.get("count")) == "1" and "gpu" in (d.get("capabilities") or [])
               for d in devices):
        err("compose", "validator: no deploy.resources.reservations.devices entry "
                       "{driver: nvidia, count: 1, capabilities: [gpu]}")
    v_mounts, b_mounts = mounts(validator), mounts(bridge)
    shared = [(s, t) for s, t, ro in v_mounts if not ro and (s, t, False) in b_mounts]
    if not shared:
        err("compose", "validator and bridge share no writable volume")
    declared = set((doc.get("volumes") or {}).keys())
    for s, _ in shared:
        if not s.startswith((".", "/", "~")) and s not in declared:
            err("compose", f"volume {s} is not declared under top-level volumes")
    chain_dir = flag_value(command_list(bridge), "--chain-dir")
    chain = flag_value(command_list(validator), "--chain")
    if not chain_dir:
        err("compose", "bridge: no --chain-dir")
    elif chain != f"local:{chain_dir}":
        err("compose", f"validator --chain {chain} is not the bridge's --chain-dir {chain_dir}")
    elif not any(chain_dir == t or chain_dir.startswith(t.rstrip("/") + "/") for _, t in shared):
        err("compose", f"chain directory {chain_dir} is not on the shared volume")
    build = validator.get("build")
    target = build.get("target") if isinstance(build, dict) else None
    if target and target not in STAGE_NAMES:
        err("compose", f"validator build target {target} is not a Dockerfile stage")
    if validator.get("image") != bridge.get("image"):
        err("compose", f"validator runs {validator.get('image')}, bridge {bridge.get('image')}: not one image")

    # health: the bridge reports healthy after its first sync; the validator waits for it.
    hc = bridge.get("healthcheck")
    if not hc:
        err("health", "bridge: no healthcheck (the image's probes the validator's endpoint)")
    elif hc.get("disable") or (hc.get("test") or [None])[0] == "NONE":
        err("health", "bridge: healthcheck disabled")
    else:
        test = hc.get("test")
        test = test if isinstance(test, list) else ["CMD-SHELL", str(test)]
        if test != BRIDGE_HEALTH:
            err("health", f"bridge: healthcheck test {test}, expected {BRIDGE_HEALTH}")
        if chain_dir and flag_value(test, "--chain-dir") not in (None, chain_dir):
            err("health", f"bridge: healthcheck reads {flag_value(test, '--chain-dir')}, the bridge writes {chain_dir}")
        grace = seconds(hc.get("start_period"))
        if grace < 300:
            err("health", f"bridge: start_period {hc.get('start_period')} is shorter than the first "
                          "sync (up to 5 minutes)")
    depends = validator.get("depends_on") or {}
    condition = depends.get("bridge", {}).get("condition") if isinstance(depends, dict) else None
    if condition != "service_healthy":
        err("health", f"validator: depends_on bridge without condition service_healthy ({depends})")

    # logging: every service rotates its logs.
    for name, svc in services.items():
        log = svc.get("logging") or {}
        opts = log.get("options") or {}
        if log.get("driver") not in ("json-file", "local") or not opts.get("max-size") or not opts.get("max-file"):
            err("logging", f"{name}: no logging {{driver: json-file, options: {{max-size, max-file}}}}")

    # hf-token: a secret file and HF_TOKEN_FILE, never the token in the environment.
    for name, svc in services.items():
        env = environment(svc)
        for key in env:
            if key in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
                err("hf-token", f"{name}: {key} in environment (docker inspect shows it)")
    secrets = [s if isinstance(s, dict) else {"source": s} for s in validator.get("secrets") or []]
    hf = [s for s in secrets if s.get("source") == "hf_token"]
    top = (doc.get("secrets") or {}).get("hf_token") or {}
    if not hf:
        err("hf-token", "validator: no secret hf_token")
    else:
        target = hf[0].get("target") or "hf_token"
        path = target if target.startswith("/") else f"/run/secrets/{target}"
        if environment(validator).get("HF_TOKEN_FILE") != path:
            err("hf-token", f"validator: HF_TOKEN_FILE is not {path}")
    if not top.get("file"):
        err("hf-token", "top-level secrets.hf_token has no file")

    # wallet: a dedicated folder, read-only.
    wallet = flag_value(command_list(bridge), "--wallet.path")
    source = [s for s, t, ro in b_mounts if ro and wallet and (wallet == t or wallet.startswith(t.rstrip("/") + "/"))]
    if not source:
        err("wallet", f"bridge: --wallet.path {wallet} is not a read-only mount")
    elif ".bittensor" in str(source[0]):
        err("wallet", f"bridge mounts {source[0]}, the operator's wallet folder, by default "
                      "(scripts/export-hotkey.sh's copy instead)")

    # variables: `up` without them stops with a line naming the variable.
    for name, var in (("validator", "CRUCIBLE_HOTKEY"), ("bridge", "CRUCIBLE_NETUID")):
        svc = service(doc, name)
        guard = " ".join(str(e) for e in (svc.get("entrypoint") or []))
        if not re.search(r'\[ -n "\$\$?' + var + r'" \]', guard) or var not in guard.split("]", 1)[-1] \
                or var not in environment(svc):
            err("variables", f"{name}: no check of {var} in its entrypoint (with {var} in its environment)")
    return errors, {"shared": shared, "chain_dir": chain_dir, "wallet": wallet,
                    "image": validator.get("image"), "build": build}


def required_variables(path):
    """${VAR?...}/${VAR:?...} outside comments: they fail `compose build/config` too."""
    found = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        text = re.sub(r"\$\$", "", line.split(" #")[0] if not line.lstrip().startswith("#") else "")
        for m in re.finditer(r"\$\{(\w+):?\?", text):
            found.append(f"{path}:{n} ${{{m.group(1)}?}}")
    return found


def check_cuda12_file(override, label):
    """The cuda12 compose file: CUDA 12 base images and the matching wheel index."""
    errors = []
    validator, bridge = service(override, "validator"), service(override, "bridge")
    build = validator.get("build") or {}
    args = (build.get("args") or {}) if isinstance(build, dict) else {}
    if isinstance(args, list):
        args = dict((a.split("=", 1) + [""])[:2] for a in args)
    build_arg_names = set(GLOBAL_ARGS) | set(STAGE["build"].args if "build" in STAGE else {})
    for key in ("CUDA_DEVEL_IMAGE", "CUDA_RUNTIME_IMAGE", "TORCH_INDEX_URL"):
        if key not in args:
            errors.append(f"{label}: validator build arg {key} missing")
        elif key not in build_arg_names:
            errors.append(f"{label}: build arg {key} is no ARG of the Dockerfile")
    versions = set()
    for key, kind in (("CUDA_DEVEL_IMAGE", "cudnn-devel"), ("CUDA_RUNTIME_IMAGE", "runtime")):
        m = re.fullmatch(r"nvidia/cuda:(12)\.(\d+)\.\d+-" + kind + r"-ubuntu24\.04(@sha256:[0-9a-f]{64})?",
                         str(args.get(key, "")))
        if not m:
            errors.append(f"{label}: {key} {args.get(key)} is not nvidia/cuda:12.x.y-{kind}-ubuntu24.04")
        else:
            versions.add(m.group(1) + m.group(2))
    m = re.fullmatch(r"https://download\.pytorch\.org/whl/cu(\d+)/?", str(args.get("TORCH_INDEX_URL", "")))
    if not m:
        errors.append(f"{label}: TORCH_INDEX_URL {args.get('TORCH_INDEX_URL')} is no PyTorch cuXYZ index")
    else:
        versions.add(m.group(1))
    if len(versions) > 1:
        errors.append(f"{label}: the base images' CUDA and the wheel index disagree ({sorted(versions)})")
    elif versions and versions & {"126", "128"} != versions:
        errors.append(f"{label}: CUDA {sorted(versions)}: PyTorch 2.11 has CUDA 12 wheels for cu126 and cu128 only")
    images = {validator.get("image"), bridge.get("image")}
    if len(images) != 1 or not re.search(r"crucible:cuda12\}?$", str(next(iter(images)))):
        errors.append(f"{label}: validator and bridge should both run crucible:cuda12, not {sorted(map(str, images))}")
    return errors, versions


def run_compose(compose, files):
    """`compose -f ... config --format json` with no variables and no .env: the
    merged project, or an error string."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "DOCKER_CONFIG") if k in os.environ}
    cmd = shlex.split(compose) + ["--env-file", os.devnull]
    for f in files:
        cmd += ["-f", f]
    cmd += ["config", "--format", "json"]
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if p.returncode != 0:
        return None, (p.stderr.strip() or p.stdout.strip()).replace("\n", " ")[:400]
    try:
        return json.loads(p.stdout), None
    except json.JSONDecodeError as e:
        return None, f"config --format json: {e}"


def check_flags(main):
    """Every option the images and compose pass exists in the programs' sources."""
    errors = []
    try:
        validator_src = open("apps/validator_command.cpp", encoding="utf-8").read()
        bridge_src = open("bridge/crucible_bridge/cli.py", encoding="utf-8").read()
    except OSError as e:
        report("FAIL", "flags", str(e))
        return
    uses = []
    for stage in STAGES:
        if stage.entrypoint == ["crucible"] and stage.cmd and stage.cmd[0] == "validator":
            uses.append((f"Dockerfile {stage.name} CMD", "validator", stage.cmd))
    if main is not None:
        v, b = service(main, "validator"), service(main, "bridge")
        uses.append((f"{MAIN} validator", "validator", command_list(v)))
        uses.append((f"{MAIN} bridge", "bridge", command_list(b)))
        test = (b.get("healthcheck") or {}).get("test") or []
        if isinstance(test, list):
            uses.append((f"{MAIN} bridge healthcheck", "bridge", test))
    checked = set()
    for where, program, args in uses:
        src = validator_src if program == "validator" else bridge_src
        for a in args:
            if re.fullmatch(r"--[\w.-]+", a):
                checked.add(a)
                if f'"{a}"' not in src:
                    errors.append(f"{where}: {a} is no option of "
                                  + ("crucible validator (apps/validator_command.cpp)" if program == "validator"
                                     else "python -m crucible_bridge (bridge/crucible_bridge/cli.py)"))
    verdict("flags", errors, f"the {len(checked)} options the images and compose pass exist in "
                             "apps/validator_command.cpp and bridge/crucible_bridge/cli.py")


def check_docs():
    errors = []
    try:
        text = open(DOCS, encoding="utf-8").read()
    except OSError as e:
        report("FAIL", "docs", str(e))
        return
    if not re.search(r"^#+ Wallets\s*$", text, re.M):
        errors.append(f'{DOCS}: no "Wallets" section (the bridge\'s error message points there)')
    for needle, why in (("crucible:cuda12", "the CUDA 12 image's tag"), ("580", "CUDA 13's driver"),
                        ("570", "CUDA 12.8's driver"), ("HF_TOKEN_FILE", "the token secret"),
                        ("--http-bind", "the status endpoint's address"), ("max-size", "log limits"),
                        ("scripts/export-hotkey.sh", "the wallet export"), ("sm_75", "the T4 kernels"),
                        (LOCK, "the bridge's locked dependencies")):
        if needle not in text:
            errors.append(f"{DOCS}: no mention of {needle} ({why})")
    verdict("docs", errors, f"{DOCS} covers the variants' drivers, wallets, the token secret, the bind "
                            "address, log limits")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compose", default="", help='a compose v2 command line, e.g. "docker compose"')
    ap.add_argument("--compose-skip", default="", help="why no compose implementation runs")
    opts = ap.parse_args()

    check_copy_sources()
    check_stages()
    check_bridge()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRUCIBLE_", "WALLET_", "HF_", "SUBTENSOR_"))}
    main_doc = cuda12_doc = None
    if yaml is not None:
        try:
            main_doc = load_yaml(MAIN, env)
            cuda12_doc = load_yaml(CUDA12, env) if os.path.exists(CUDA12) else None
        except (OSError, yaml.YAMLError) as e:
            report("FAIL", "compose", f"does not parse: {e}".replace("\n", " "))
    elif opts.compose:  # no PyYAML: compose's own reading of the main file
        main_doc, _ = run_compose(opts.compose, [MAIN])

    check_cuda_arch(cuda12_doc)
    check_http_bind(main_doc)
    check_flags(main_doc)

    # The compose checks, on PyYAML's reading of the files.
    names = ("compose", "health", "logging", "hf-token", "wallet", "variables")
    summary = {}
    if main_doc is not None:
        errors, info = check_compose_structure(main_doc, MAIN)
        required = required_variables(MAIN) + (required_variables(CUDA12) if os.path.exists(CUDA12) else [])
        if required:
            errors.setdefault("variables", []).append(
                "required variables fail `docker compose build/config` without them: " + ", ".join(required))
        wallet_src = [s for s, t, ro in mounts(service(main_doc, "bridge")) if ro]
        secret = ((main_doc.get("secrets") or {}).get("hf_token") or {}).get("file")
        def in_repo(path):  # compose's output has absolute paths
            return os.path.relpath(path) if path and path.startswith(os.getcwd() + "/") else path
        for path, what in ((in_repo(wallet_src[0]) if wallet_src else None, "the wallet folder"),
                           (in_repo(secret), "the token file"), (".env", "compose's variables")):
            if path and not os.path.isabs(path) and not ignored(path):
                errors.setdefault("wallet" if what != "the token file" else "hf-token", []).append(
                    f"{what} {path} is not in .dockerignore (the cpu stage copies the whole context)")
        for script in ("scripts/export-hotkey.sh", "scripts/export-hf-token.sh"):
            if not os.access(script, os.X_OK):
                errors.setdefault("wallet", []).append(f"{script} missing or not executable")
        ok = {
            "compose": f"services {', '.join(main_doc.get('services') or {})}; GPU reserved for validator; "
                       f"shared {', '.join(f'{s}:{t}' for s, t in info['shared'])}; chain {info['chain_dir']}; "
                       "one image",
            "health": "bridge healthcheck --check-health (start_period >= 5 min); validator depends_on "
                      "bridge: service_healthy",
            "logging": "every service: json-file with max-size and max-file",
            "hf-token": "validator: secret hf_token, HF_TOKEN_FILE=/run/secrets/hf_token; no HF_TOKEN "
                        "in any environment",
            "wallet": f"bridge: {info['wallet']} a read-only mount of {wallet_src[0] if wallet_src else '?'} "
                      "(scripts/export-hotkey.sh), kept out of the build context",
            "variables": "no ${VAR:?}: build/config need no variables; up without CRUCIBLE_HOTKEY/"
                         "CRUCIBLE_NETUID stops in the service's entrypoint",
        }
        for name in names:
            verdict(name, errors.get(name, []), ok[name])
        summary = info
    else:
        for name in names:
            report("skip", name, "no PyYAML for this python3 (apt-get install python3-yaml) and no "
                                 "compose v2 to read the compose files")

    # The CUDA 12 variant, statically.
    if cuda12_doc is None and yaml is not None:
        report("FAIL", "cuda12", f"{CUDA12} missing (the CUDA 12 variant's build args)")
    elif cuda12_doc is not None:
        errors, versions = check_cuda12_file(cuda12_doc, CUDA12)
        docs = open(DOCS, encoding="utf-8").read() if os.path.exists(DOCS) else ""
        for value in ((service(cuda12_doc, "validator").get("build") or {}).get("args") or {}).values():
            if str(value) not in docs or str(value) not in open("Dockerfile", encoding="utf-8").read():
                errors.append(f"build arg value {value} is not in both {DOCS} and the Dockerfile's "
                              "`docker build` comment")
        cuda = "/".join(f"{v[:2]}.{v[2:]}" for v in sorted(versions))
        verdict("cuda12", errors, f"{CUDA12}: crucible:cuda12 from CUDA {cuda} base images and the "
                                  f"cu{''.join(sorted(versions))} PyTorch wheel index")

    # docker compose config, both variants, without any variable.
    if not opts.compose:
        report("skip", "compose-config", opts.compose_skip or "no compose v2 implementation")
    else:
        for label, files in (("cuda13", [MAIN]), ("cuda12", [MAIN, CUDA12])):
            doc, error = run_compose(opts.compose, files)
            if doc is None:
                report("FAIL", "compose-config", f"{label} ({' + '.join(files)}): {error}")
                continue
            errors, info = check_compose_structure(doc, label)
            flat = [e for name in names for e in errors.get(name, [])]
            if label == "cuda12":
                flat += check_cuda12_file(doc, label)[0]
            elif info["image"] != "crucible:cuda":
                flat.append(f"{label}: image {info['image']}, expected crucible:cuda")
            build = info["build"] or {}
            verdict("compose-config", flat, f"{label}: `{opts.compose} {' '.join('-f ' + f for f in files)} "
                                            f"config` with no variables: image {info['image']}"
                                            + (f", build args {sorted((build.get('args') or {}))}"
                                               if build.get("args") else "")
                                            + "; the checks above hold for its output")
    check_docs()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
