"""The IAM policy and the image build, against the workspace (for
scripts/check_manifests.py)."""

import json
import os
import re

from manifests_common import CLUSTER_COMMAND, ROOT

# The EC2 calls eniwatch-cluster makes (docs/cluster.md), and nothing else.
CLUSTER_EC2_ACTIONS = {
    "ec2:DescribeSubnets",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeInstanceTypes",
}


def ec2_calls(source):
    """The EC2 SDK calls (`.describe_x()`) in a .rs file or a directory of them."""
    paths = [source]
    if os.path.isdir(source):
        paths = [os.path.join(d, f) for d, _, fs in os.walk(source) for f in fs if f.endswith(".rs")]
    calls = set()
    for path in paths:
        with open(path) as f:
            calls.update(re.findall(r"\.(describe_[a-z_]+)\(\)", f.read()))
    return {"ec2:" + "".join(w.capitalize() for w in c.split("_")) for c in calls}


def check_iam(check, policy_path, ec2_source):
    check.context = os.path.relpath(policy_path, ROOT)
    with open(policy_path) as f:
        policy = json.load(f)
    check(policy.get("Version") == "2012-10-17", "Version is not 2012-10-17")
    allowed = set()
    for st in policy.get("Statement", []):
        check(st.get("Effect") == "Allow", "a statement is not Allow")
        check(st.get("Resource") == "*", "Describe calls cannot be scoped to resources: Resource must be \"*\"")
        check("Condition" not in st and "NotAction" not in st, "unexpected Condition/NotAction")
        actions = st.get("Action", [])
        allowed.update([actions] if isinstance(actions, str) else actions)
    check(allowed == CLUSTER_EC2_ACTIONS, "policy allows %s; eniwatch-cluster needs exactly %s" % (sorted(allowed), sorted(CLUSTER_EC2_ACTIONS)))
    if ec2_source:
        used = ec2_calls(ec2_source)
        check(bool(used), "no EC2 calls found in %s" % ec2_source)
        check(used <= allowed, "%s calls %s, which the policy does not allow" % (ec2_source, sorted(used - allowed)))


def check_dockerfile(check, dockerfile, cargo_toml, dockerignore):
    """The image build matches the workspace: builder Rust, package, binary, base."""
    check.context = os.path.relpath(dockerfile, ROOT)
    with open(dockerfile) as f:
        text = re.sub(r"\\\n", " ", f.read())
    with open(cargo_toml) as f:
        cargo = f.read()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    check(len(stages) == 2, "expected two stages (build, run), found %d" % len(stages))
    m = re.search(r'^rust-version\s*=\s*"(\d+)\.(\d+)', cargo, re.M)
    b = re.match(r"rust:(\d+)\.(\d+)", stages[0]) if stages else None
    if check(m and b, "builder %r is not rust:<major>.<minor>-..., or Cargo.toml has no rust-version" % (stages[:1],)):
        check(tuple(map(int, b.groups())) >= tuple(map(int, m.groups())),
              "builder %s is older than rust-version %s.%s" % (stages[0], *m.groups()))
    runs = " ".join(re.findall(r"^RUN\s+(.*)$", text, re.M))
    check(re.search(r"cargo build --release --locked -p eniwatch -p eniwatch-cluster(\s|$)", runs),
          "no `cargo build --release --locked -p eniwatch -p eniwatch-cluster`")
    for member, package in (("agent", "eniwatch"), ("cluster", "eniwatch-cluster")):
        with open(os.path.join(os.path.dirname(cargo_toml), member, "Cargo.toml")) as f:
            manifest = f.read()
        check(re.search(r'^name\s*=\s*"%s"' % package, manifest, re.M), "%s/Cargo.toml is not the package %s" % (member, package))
        check(re.search(r'\[\[bin\]\]\s*name\s*=\s*"%s"' % package, manifest), "%s/Cargo.toml has no [[bin]] %s" % (member, package))
        deps = manifest.split("[dependencies]", 1)[-1].split("\n[", 1)[0]
        check("eniwatch-lab" not in deps, "%s depends on the lab outside its tests" % package)
    final = text[text.rfind("\nFROM"):] if stages else ""
    check(stages[-1:] == ["gcr.io/distroless/cc-debian12:nonroot"], "final stage is not gcr.io/distroless/cc-debian12:nonroot")
    check(re.search(r"^USER\s+65532(:65532)?\s*$", final, re.M), "final stage does not run as 65532")
    check(re.search(r"^COPY\s+--from=\S+\s+\S+\s+/usr/local/bin/eniwatch\s*$", final, re.M), "binary not copied to /usr/local/bin/eniwatch")
    check(re.search(r"^COPY\s+--from=\S+\s+\S+\s+%s\s*$" % re.escape(CLUSTER_COMMAND[0]), final, re.M),
          "binary not copied to %s (the Deployment's command)" % CLUSTER_COMMAND[0])
    check(re.search(r'^ENTRYPOINT\s+\["eniwatch"\]\s*$', final, re.M), 'ENTRYPOINT is not ["eniwatch"]')
    check(re.search(r'^CMD\s+\["run"\]\s*$', final, re.M), 'CMD is not ["run"]')
    with open(dockerignore) as f:
        ignore = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    check(ignore[:1] == ["*"] or "target" in ignore or "target/" in ignore or "/target" in ignore,
          ".dockerignore does not keep target/ out of the build context")
    members = re.search(r"^members\s*=\s*\[(.*)\]", cargo, re.M)
    members = [m.strip().strip('"') + "/" for m in members.group(1).split(",")] if members else []
    check(members, "Cargo.toml lists no workspace members")
    for needed in ["Cargo.toml", "Cargo.lock"] + members:
        check(ignore[:1] != ["*"] or "!" + needed in ignore, ".dockerignore leaves %s out of the context" % needed)


def cargo_version(path):
    with open(path) as f:
        m = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M)
    return m.group(1) if m else "?"
