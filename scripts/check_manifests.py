#!/usr/bin/env python3
"""Checks the rendered kustomizations of deploy/ and the IAM policy.

    check_manifests.py --rendered NAME=FILE ... [--k8s-versions 1.31,latest]
                       [--iam-policy deploy/iam/policy.json --ec2-source ec2/src/client.rs]
                       [--dockerfile Dockerfile] [--cargo-toml Cargo.toml]

NAME is the kustomization's path under deploy/ (base, node-rbac,
overlays/<name>); FILE is `kubectl kustomize` output. For each one:

- every object validates against the Kubernetes OpenAPI schemas bundled with
  kubernetes-validate, strictly (unknown fields are errors), for each listed
  Kubernetes version; only the Prometheus Operator kinds have no bundled
  schema, and their structure is checked here instead;
- the objects are exactly the ones expected for that kustomization;
- the DaemonSet has every security and scheduling setting the agent relies
  on (host network, non-root, no capabilities, read-only root, probes,
  resources, tolerations, Fargate excluded, ...), plus what the overlay adds;
- RBAC grants exactly the agent's verbs, to the agent's ServiceAccount;
- the monitoring objects select the agent (Service -> pods, ServiceMonitor
  -> Service) and the dashboard ConfigMap carries deploy's dashboard file.

With --iam-policy: the policy allows exactly the EC2 calls the agent makes
(read from the EC2 source), on Resource "*".

With --dockerfile: the image build agrees with the workspace (builder Rust at
least rust-version, the locked release build of the node agent's package
`eniwatch`, which does not depend on the lab, distroless/cc nonroot,
ENTRYPOINT eniwatch, CMD run) and .dockerignore keeps target/ out of the
build context but every workspace member in it.

Exits 1 with one line per problem.
"""

import argparse
import json
import os
import re
import sys

import yaml

try:
    import kubernetes_validate.utils as kv
except ImportError:  # reported in main(), so the message says what to install
    kv = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMESPACE = "kube-system"
APP = "eniwatch"
SELECTOR = {"app.kubernetes.io/name": APP}

# Kinds without a bundled schema (CRDs), checked structurally below.
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}

AGENT_RULES = {
    ("", "nodes"): {"get", "list", "watch"},
    ("", "pods"): {"get", "list", "watch"},
    ("crd.k8s.amazonaws.com", "eniconfigs"): {"get", "list", "watch"},
    ("", "nodes/status"): {"patch"},
    ("events.k8s.io", "events"): {"create", "patch"},
}
NODE_RBAC_RULES = {("crd.k8s.amazonaws.com", "eniconfigs"): {"get", "list", "watch"}}

AGENT_OBJECTS = {
    ("ServiceAccount", "eniwatch"),
    ("ClusterRole", "eniwatch"),
    ("ClusterRoleBinding", "eniwatch"),
    ("DaemonSet", "eniwatch"),
}
MONITORING_OBJECTS = {
    ("Service", "eniwatch"),
    ("ServiceMonitor", "eniwatch"),
    ("PrometheusRule", "eniwatch"),
    ("ConfigMap", "eniwatch-dashboard"),
}
ZONE_ENV = {"ENI_CONFIG_LABEL_DEF": "topology.kubernetes.io/zone"}
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")

# What each kustomization must render. Every kustomization under deploy/
# needs an entry: a new overlay without one fails the check.
EXPECT = {
    "base": dict(objects=AGENT_OBJECTS),
    "node-rbac": dict(
        objects={
            ("ClusterRole", "eniwatch:nodes-read-eniconfigs"),
            ("ClusterRoleBinding", "eniwatch:nodes-read-eniconfigs"),
        }
    ),
    "overlays/zone-eniconfig": dict(objects=AGENT_OBJECTS, env=ZONE_ENV),
    "overlays/no-events": dict(objects=AGENT_OBJECTS, args=["--no-events", "--no-condition"]),
    "overlays/irsa": dict(objects=AGENT_OBJECTS, irsa=True),
    "overlays/prometheus-operator": dict(objects=AGENT_OBJECTS | MONITORING_OBJECTS),
    "overlays/zone-irsa-prometheus": dict(
        objects=AGENT_OBJECTS | MONITORING_OBJECTS, env=ZONE_ENV, irsa=True
    ),
}

DASHBOARD_FILE = "deploy/components/prometheus-operator/dashboards/eniwatch.json"


class Problems:
    def __init__(self):
        self.items = []
        self.context = ""

    def __call__(self, ok, message):
        if not ok:
            self.items.append("%s: %s" % (self.context, message))
        return ok


def dig(obj, *path, default=None):
    for p in path:
        if isinstance(obj, dict) and p in obj:
            obj = obj[p]
        elif isinstance(obj, list) and isinstance(p, int) and p < len(obj):
            obj = obj[p]
        else:
            return default
    return obj


def validate_schemas(check, objects, versions):
    for obj in objects:
        key = (obj.get("apiVersion"), obj.get("kind"))
        name = "%s/%s" % (obj.get("kind"), dig(obj, "metadata", "name"))
        for version in versions:
            try:
                kv.validate(obj, version, strict=True)
                check(key not in CRD_KINDS, "%s: unexpectedly has a bundled schema" % name)
            except kv.SchemaNotFoundError:
                check(key in CRD_KINDS, "%s: no schema for %s %s in Kubernetes %s" % (name, *key, version))
            except kv.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                check(False, "%s: invalid for Kubernetes %s at %s: %s" % (name, version, path, e.message))


def check_daemonset(check, ds, expect, cargo_version):
    spec = dig(ds, "spec", "template", "spec", default={})
    check(dig(ds, "metadata", "namespace") == NAMESPACE, "DaemonSet not in %s" % NAMESPACE)
    check(dig(ds, "spec", "selector", "matchLabels") == SELECTOR, "DaemonSet selector is not %s" % SELECTOR)
    labels = dig(ds, "spec", "template", "metadata", "labels", default={})
    check(all(labels.get(k) == v for k, v in SELECTOR.items()), "pod labels do not match the selector")
    check(dig(ds, "spec", "updateStrategy", "type") == "RollingUpdate", "updateStrategy is not RollingUpdate")
    check(dig(ds, "spec", "updateStrategy", "rollingUpdate", "maxUnavailable") == "10%", "maxUnavailable is not 10%")
    check(not dig(ds, "spec", "updateStrategy", "rollingUpdate", "maxSurge"), "maxSurge set: host port 9742 cannot be shared")

    check(spec.get("hostNetwork") is True, "hostNetwork is not true")
    check(spec.get("dnsPolicy") == "ClusterFirstWithHostNet", "dnsPolicy is not ClusterFirstWithHostNet")
    for host in ("hostPID", "hostIPC"):
        check(not spec.get(host), "%s is set" % host)
    check(spec.get("serviceAccountName") == APP, "serviceAccountName is not %s" % APP)
    check(spec.get("automountServiceAccountToken") is not False, "service account token not mounted")
    check(spec.get("priorityClassName") == "system-node-critical", "priorityClassName is not system-node-critical")
    check({"operator": "Exists"} in spec.get("tolerations", []), "no toleration {operator: Exists} for every taint")
    check(dig(spec, "nodeSelector", "kubernetes.io/os") == "linux", "nodeSelector kubernetes.io/os=linux missing")
    terms = dig(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", default=[])
    check(bool(terms), "no required node affinity")
    for term in terms:
        fargate = [
            e for e in term.get("matchExpressions", [])
            if e.get("key") == "eks.amazonaws.com/compute-type" and e.get("operator") == "NotIn" and "fargate" in e.get("values", [])
        ]
        check(bool(fargate), "a node affinity term does not exclude eks.amazonaws.com/compute-type=fargate")
    check(not any("hostPath" in v for v in spec.get("volumes", [])), "hostPath volume present")

    psc = spec.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True, "pod runAsNonRoot is not true")
    check(psc.get("runAsUser") == 65532, "pod runAsUser is not 65532")
    check(psc.get("runAsGroup") == 65532, "pod runAsGroup is not 65532")
    check(dig(psc, "seccompProfile", "type") == "RuntimeDefault", "seccompProfile is not RuntimeDefault")

    containers = spec.get("containers", [])
    if not check(len(containers) == 1 and not spec.get("initContainers"), "expected exactly one container"):
        return
    c = containers[0]
    csc = c.get("securityContext", {})
    check(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    check(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    check(csc.get("privileged") in (None, False), "container is privileged")
    check(dig(csc, "capabilities", "drop") == ["ALL"], "capabilities.drop is not [ALL]")
    check(not dig(csc, "capabilities", "add"), "capabilities added")
    for k in ("runAsUser", "runAsGroup"):
        check(csc.get(k) in (None, 65532), "container %s overrides 65532" % k)
    check(csc.get("runAsNonRoot") is not False, "container runAsNonRoot is false")

    image = c.get("image", "")
    check(image.endswith(":" + cargo_version), "image %r is not tagged with the crate version %s" % (image, cargo_version))
    check(c.get("command") is None, "command overrides the image's ENTRYPOINT")
    check(c.get("args") == ["run"] + expect.get("args", []), "args %r, expected %r" % (c.get("args"), ["run"] + expect.get("args", [])))

    env = {e.get("name"): e for e in c.get("env", [])}
    check(len(env) == len(c.get("env", [])), "duplicate env names")
    check(dig(env, "NODE_NAME", "valueFrom", "fieldRef", "fieldPath") == "spec.nodeName", "NODE_NAME is not the downward API's spec.nodeName")
    wanted = dict(expect.get("env", {}))
    for name, e in env.items():
        if name == "NODE_NAME":
            continue
        check(name in wanted, "unexpected env %s" % name)
        check(e.get("value") == wanted.pop(name, e.get("value")), "env %s=%r" % (name, e.get("value")))
    check(not wanted, "env missing: %s" % wanted)

    ports = c.get("ports", [])
    check(
        ports == [{"name": "metrics", "containerPort": 9742, "hostPort": 9742, "protocol": "TCP"}],
        "ports are not exactly metrics 9742/TCP: %r" % ports,
    )
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        check(dig(c, probe, "httpGet", "path") == path, "%s path is not %s" % (probe, path))
        check(dig(c, probe, "httpGet", "port") in ("metrics", 9742), "%s port is not metrics" % probe)
    res = c.get("resources", {})
    check(res.get("requests") == {"cpu": "10m", "memory": "32Mi"}, "requests are not cpu 10m, memory 32Mi: %r" % res.get("requests"))
    check(res.get("limits") == {"memory": "64Mi"}, "limits are not memory 64Mi only: %r" % res.get("limits"))


def rbac_rules(role):
    rules = {}
    for r in role.get("rules", []):
        for group in r.get("apiGroups", []):
            for res in r.get("resources", []):
                rules.setdefault((group, res), set()).update(r.get("verbs", []))
        if r.get("resourceNames") or r.get("nonResourceURLs"):
            rules[("?", "resourceNames or nonResourceURLs")] = {"unexpected"}
    return rules


def check_rbac(check, by_key, name):
    if name == "node-rbac":
        role = by_key.get(("ClusterRole", "eniwatch:nodes-read-eniconfigs"), {})
        binding = by_key.get(("ClusterRoleBinding", "eniwatch:nodes-read-eniconfigs"), {})
        check(rbac_rules(role) == NODE_RBAC_RULES, "node-rbac ClusterRole grants %r" % rbac_rules(role))
        check(
            binding.get("subjects") == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:nodes"}],
            "node-rbac binding is not to the group system:nodes only",
        )
        check(dig(binding, "roleRef", "name") == "eniwatch:nodes-read-eniconfigs", "node-rbac binding roleRef")
        return
    role = by_key.get(("ClusterRole", APP), {})
    check(rbac_rules(role) == AGENT_RULES, "ClusterRole grants %r, expected %r" % (rbac_rules(role), AGENT_RULES))
    binding = by_key.get(("ClusterRoleBinding", APP), {})
    check(dig(binding, "roleRef") == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": APP}, "binding roleRef")
    check(
        binding.get("subjects") == [{"kind": "ServiceAccount", "name": APP, "namespace": NAMESPACE}],
        "binding subjects are not the eniwatch ServiceAccount: %r" % binding.get("subjects"),
    )
    sa = by_key.get(("ServiceAccount", APP), {})
    check(dig(sa, "metadata", "namespace") == NAMESPACE, "ServiceAccount not in %s" % NAMESPACE)


def check_irsa(check, by_key, wanted):
    annotations = dig(by_key.get(("ServiceAccount", APP), {}), "metadata", "annotations", default={}) or {}
    arn = annotations.get("eks.amazonaws.com/role-arn")
    if wanted:
        check(arn is not None and ROLE_ARN.match(arn), "ServiceAccount role-arn annotation %r is not an IAM role ARN" % arn)
    else:
        check(arn is None, "ServiceAccount has a role-arn annotation outside the irsa overlays")


SERVICEMONITOR_KEYS = {"selector", "namespaceSelector", "endpoints", "jobLabel", "targetLabels", "podTargetLabels", "sampleLimit"}
ENDPOINT_KEYS = {"port", "path", "interval", "scrapeTimeout", "scheme", "relabelings", "metricRelabelings", "honorLabels"}
RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}


def check_monitoring(check, by_key, ds):
    svc = by_key[("Service", APP)]
    pod_labels = dig(ds, "spec", "template", "metadata", "labels", default={})
    selector = dig(svc, "spec", "selector", default={})
    check(selector and all(pod_labels.get(k) == v for k, v in selector.items()), "Service selector does not select the agent's pods")
    check(dig(svc, "spec", "clusterIP") == "None", "Service is not headless")
    check(
        dig(svc, "spec", "ports") == [{"name": "metrics", "port": 9742, "targetPort": "metrics", "protocol": "TCP"}],
        "Service ports are not metrics 9742 -> metrics",
    )
    sm = by_key[("ServiceMonitor", APP)]
    check(set(sm.get("spec", {})) <= SERVICEMONITOR_KEYS, "ServiceMonitor has unknown spec fields %s" % (set(sm.get("spec", {})) - SERVICEMONITOR_KEYS))
    sm_sel = dig(sm, "spec", "selector", "matchLabels", default={})
    svc_labels = dig(svc, "metadata", "labels", default={})
    check(sm_sel and all(svc_labels.get(k) == v for k, v in sm_sel.items()), "ServiceMonitor selector does not select the Service")
    check(dig(sm, "spec", "namespaceSelector") is None, "ServiceMonitor namespaceSelector set: it must look in its own namespace")
    check(dig(sm, "metadata", "namespace") == dig(svc, "metadata", "namespace"), "ServiceMonitor and Service in different namespaces")
    check(dig(sm, "spec", "jobLabel") is None, "ServiceMonitor jobLabel set: the rules expect job=%s (the Service name)" % APP)
    endpoints = dig(sm, "spec", "endpoints", default=[])
    check(len(endpoints) == 1, "ServiceMonitor needs exactly one endpoint")
    for ep in endpoints:
        check(set(ep) <= ENDPOINT_KEYS, "ServiceMonitor endpoint has unknown fields %s" % (set(ep) - ENDPOINT_KEYS))
        check(ep.get("port") == "metrics" and ep.get("path", "/metrics") == "/metrics", "ServiceMonitor endpoint is not port metrics /metrics")
    pr = by_key[("PrometheusRule", APP)]
    groups = dig(pr, "spec", "groups", default=[])
    check(set(pr.get("spec", {})) == {"groups"} and groups, "PrometheusRule spec must be exactly non-empty groups")
    for g in groups:
        check(set(g) <= {"name", "interval", "rules"} and g.get("rules"), "rule group %r malformed" % g.get("name"))
        for r in g.get("rules", []):
            check(set(r) <= RULE_KEYS, "rule %r has unknown fields %s" % (r.get("alert"), set(r) - RULE_KEYS))
    cm = by_key[("ConfigMap", "eniwatch-dashboard")]
    check(dig(cm, "metadata", "labels", "grafana_dashboard") == "1", "dashboard ConfigMap lacks label grafana_dashboard: \"1\"")
    check(dig(cm, "metadata", "namespace") == NAMESPACE, "dashboard ConfigMap not in %s" % NAMESPACE)
    with open(os.path.join(ROOT, DASHBOARD_FILE)) as f:
        check(cm.get("data") == {"eniwatch.json": f.read()}, "dashboard ConfigMap data is not %s" % DASHBOARD_FILE)


def check_rendered(check, name, path, versions, cargo_version):
    check.context = "deploy/" + name
    with open(path) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    expect = EXPECT.get(name)
    if not check(expect is not None, "no expectations for this kustomization in scripts/check_manifests.py"):
        return
    keys = [(o.get("kind"), dig(o, "metadata", "name")) for o in objects]
    check(len(keys) == len(set(keys)), "duplicate objects")
    check(set(keys) == expect["objects"], "objects %s, expected %s" % (sorted(set(keys)), sorted(expect["objects"])))
    validate_schemas(check, objects, versions)
    by_key = dict(zip(keys, objects))
    check_rbac(check, by_key, name)
    ds = by_key.get(("DaemonSet", APP))
    if ds is not None:
        check_daemonset(check, ds, expect, cargo_version)
        check_irsa(check, by_key, expect.get("irsa", False))
    if MONITORING_OBJECTS <= set(by_key) and ds is not None:
        check_monitoring(check, by_key, ds)


def check_iam(check, policy_path, ec2_source):
    check.context = os.path.relpath(policy_path, ROOT)
    with open(ec2_source) as f:
        calls = set(re.findall(r"\.(describe_[a-z_]+)\(\)", f.read()))
    check(bool(calls), "no EC2 calls found in %s" % ec2_source)
    used = {"ec2:" + "".join(w.capitalize() for w in c.split("_")) for c in calls}
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
    check(allowed == used, "policy allows %s; the agent calls %s" % (sorted(allowed), sorted(used)))


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
    check(re.search(r"cargo build --release --locked -p eniwatch(\s|$)", runs),
          "no `cargo build --release --locked -p eniwatch`")
    agent_toml = os.path.join(os.path.dirname(cargo_toml), "agent", "Cargo.toml")
    with open(agent_toml) as f:
        agent = f.read()
    check(re.search(r'^name\s*=\s*"eniwatch"', agent, re.M), "agent/Cargo.toml is not the package eniwatch")
    check(re.search(r'\[\[bin\]\]\s*name\s*=\s*"eniwatch"', agent), "agent/Cargo.toml has no [[bin]] eniwatch")
    deps = agent.split("[dependencies]", 1)[-1].split("\n[", 1)[0]
    check("eniwatch-lab" not in deps, "the node agent depends on the lab outside its tests")
    final = text[text.rfind("\nFROM"):] if stages else ""
    check(stages[-1:] == ["gcr.io/distroless/cc-debian12:nonroot"], "final stage is not gcr.io/distroless/cc-debian12:nonroot")
    check(re.search(r"^USER\s+65532(:65532)?\s*$", final, re.M), "final stage does not run as 65532")
    check(re.search(r"^COPY\s+--from=\S+\s+\S+\s+/usr/local/bin/eniwatch\s*$", final, re.M), "binary not copied to /usr/local/bin/eniwatch")
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rendered", action="append", default=[], metavar="NAME=FILE")
    ap.add_argument("--k8s-versions", default="1.31,latest")
    ap.add_argument("--iam-policy")
    ap.add_argument("--ec2-source")
    ap.add_argument("--cargo-toml", default=os.path.join(ROOT, "Cargo.toml"))
    ap.add_argument("--dockerfile")
    ap.add_argument("--dockerignore", default=os.path.join(ROOT, ".dockerignore"))
    args = ap.parse_args()
    if kv is None:
        print("check_manifests: kubernetes-validate is not installed (scripts/setup-ship.sh)", file=sys.stderr)
        return 2
    versions = [kv.latest_version() if v == "latest" else v for v in args.k8s_versions.split(",")]
    check = Problems()
    version = cargo_version(args.cargo_toml)
    seen = set()
    for item in args.rendered:
        name, _, path = item.partition("=")
        seen.add(name)
        check_rendered(check, name, path, versions, version)
    check.context = "deploy"
    check(set(EXPECT) <= seen, "kustomizations not rendered: %s" % sorted(set(EXPECT) - seen))
    if args.iam_policy:
        check_iam(check, args.iam_policy, args.ec2_source)
    if args.dockerfile:
        check_dockerfile(check, args.dockerfile, args.cargo_toml, args.dockerignore)
    for p in check.items:
        print("FAIL " + p)
    if check.items:
        return 1
    extra = "".join(x for x, on in ((", IAM policy OK", args.iam_policy), (", Dockerfile OK", args.dockerfile)) if on)
    print("manifests: %d kustomizations OK (Kubernetes %s)%s" % (len(seen), ", ".join(versions), extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
