#!/usr/bin/env python3
"""Checks the rendered kustomizations of deploy/ and the IAM policy.

    check_manifests.py --rendered NAME=FILE ... [--k8s-versions 1.31,latest]
                       [--iam-policy deploy/iam/cluster-policy.json --ec2-source ec2/src]
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
- the eniwatch-cluster Deployment (where the overlay has it): one replica,
  Recreate, the image's eniwatch-cluster binary as command, no host
  network, and the DaemonSet's hardening (the same pod and container
  security contexts), probes and resources;
- RBAC grants exactly each program's verbs (names where a rule is limited
  to one object), to its own ServiceAccount; no AWS role on the agent's;
- the monitoring objects select their program (Service -> pods,
  ServiceMonitor -> Service) and the dashboard ConfigMaps carry deploy's
  dashboard files.

With --iam-policy: the policy allows exactly eniwatch-cluster's five
Describe calls, on Resource "*", and every EC2 call in the --ec2-source
files (a file or a directory of .rs files) is among them.

With --dockerfile: the image build agrees with the workspace (builder Rust at
least rust-version, the locked release build of the packages `eniwatch` and
`eniwatch-cluster`, neither depending on the lab, both binaries in
/usr/local/bin, distroless/cc nonroot, ENTRYPOINT eniwatch, CMD run) and
.dockerignore keeps target/ out of the build context but every workspace
member in it.

Exits 1 with one line per problem. The RBAC checks are in manifests_rbac.py,
the IAM policy's and the image's in manifests_image.py.
"""

import argparse
import os
import sys

import yaml

from manifests_common import APP, CLUSTER, CLUSTER_COMMAND, CLUSTER_SELECTOR, NAMESPACE, ROOT, SELECTOR, Problems, dig
from manifests_image import cargo_version, check_dockerfile, check_iam
from manifests_rbac import check_irsa, check_rbac

try:
    import kubernetes_validate.utils as kv
except ImportError:  # reported in main(), so the message says what to install
    kv = None


# Kinds without a bundled schema (CRDs), checked structurally below.
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}

AGENT_OBJECTS = {
    ("ServiceAccount", "eniwatch"),
    ("ClusterRole", "eniwatch"),
    ("ClusterRoleBinding", "eniwatch"),
    ("Role", "eniwatch"),
    ("RoleBinding", "eniwatch"),
    ("DaemonSet", "eniwatch"),
}
# Confine the agent's writes to its own node; overlays/no-admission-policy
# (clusters older than 1.30) renders the agent without them.
AGENT_POLICIES = {
    (kind, name)
    for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
    for name in ("eniwatch-node-status", "eniwatch-events", "eniwatch-cluster-configmaps")
}
AGENT_OBJECTS_BEFORE_1_30 = set(AGENT_OBJECTS)
AGENT_OBJECTS |= AGENT_POLICIES
CLUSTER_OBJECTS = {
    ("ServiceAccount", CLUSTER),
    ("ClusterRole", CLUSTER),
    ("ClusterRoleBinding", CLUSTER),
    ("Role", CLUSTER),
    ("RoleBinding", CLUSTER),
    ("Role", CLUSTER + "-events"),
    ("RoleBinding", CLUSTER + "-events"),
    ("Deployment", CLUSTER),
}
MONITORING_OBJECTS = {
    ("Service", "eniwatch"),
    ("ServiceMonitor", "eniwatch"),
    ("PrometheusRule", "eniwatch"),
    ("ConfigMap", "eniwatch-dashboard"),
    ("Service", CLUSTER),
    ("ServiceMonitor", CLUSTER),
    ("ConfigMap", CLUSTER + "-dashboard"),
}

ZONE_ENV = {"ENI_CONFIG_LABEL_DEF": "topology.kubernetes.io/zone"}

# What each kustomization must render. Every kustomization under deploy/
# needs an entry: a new overlay without one fails the check.
# (cluster_args, cluster_env: what the overlay adds to the Deployment.)
EXPECT = {
    "base": dict(objects=AGENT_OBJECTS),
    "node-rbac": dict(
        objects={
            ("ClusterRole", "eniwatch:nodes-read-eniconfigs"),
            ("ClusterRoleBinding", "eniwatch:nodes-read-eniconfigs"),
            ("Role", "eniwatch:nodes-read-cluster-facts"),
            ("RoleBinding", "eniwatch:nodes-read-cluster-facts"),
        }
    ),
    "overlays/zone-eniconfig": dict(objects=AGENT_OBJECTS | CLUSTER_OBJECTS, env=ZONE_ENV, cluster_env=ZONE_ENV),
    "overlays/no-events": dict(
        objects=AGENT_OBJECTS | CLUSTER_OBJECTS, args=["--no-events", "--no-condition"], cluster_args=["--no-events"]
    ),
    "overlays/no-admission-policy": dict(objects=AGENT_OBJECTS_BEFORE_1_30 | CLUSTER_OBJECTS),
    "overlays/prometheus-operator": dict(objects=AGENT_OBJECTS | CLUSTER_OBJECTS | MONITORING_OBJECTS),
    "overlays/zone-irsa-prometheus": dict(
        objects=AGENT_OBJECTS | CLUSTER_OBJECTS | MONITORING_OBJECTS, env=ZONE_ENV, cluster_env=ZONE_ENV, irsa=True
    ),
}

DASHBOARDS = {
    "eniwatch-dashboard": "deploy/components/prometheus-operator/dashboards/eniwatch.json",
    CLUSTER + "-dashboard": "deploy/components/prometheus-operator/dashboards/eniwatch-cluster.json",
}


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


def check_hardening(check, what, spec, cargo_version):
    """Non-root, seccomp, one container without privileges or capabilities on
    a read-only root, the crate version's image: the same for both programs.
    Returns the container (None when there is not exactly one)."""
    psc = spec.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True, "%s: pod runAsNonRoot is not true" % what)
    check(psc.get("runAsUser") == 65532, "%s: pod runAsUser is not 65532" % what)
    check(psc.get("runAsGroup") == 65532, "%s: pod runAsGroup is not 65532" % what)
    check(dig(psc, "seccompProfile", "type") == "RuntimeDefault", "%s: seccompProfile is not RuntimeDefault" % what)
    check(not any("hostPath" in v for v in spec.get("volumes", [])), "%s: hostPath volume present" % what)
    for host in ("hostPID", "hostIPC"):
        check(not spec.get(host), "%s: %s is set" % (what, host))

    containers = spec.get("containers", [])
    if not check(len(containers) == 1 and not spec.get("initContainers"), "%s: expected exactly one container" % what):
        return None
    c = containers[0]
    csc = c.get("securityContext", {})
    check(csc.get("allowPrivilegeEscalation") is False, "%s: allowPrivilegeEscalation is not false" % what)
    check(csc.get("readOnlyRootFilesystem") is True, "%s: readOnlyRootFilesystem is not true" % what)
    check(csc.get("privileged") in (None, False), "%s: container is privileged" % what)
    check(dig(csc, "capabilities", "drop") == ["ALL"], "%s: capabilities.drop is not [ALL]" % what)
    check(not dig(csc, "capabilities", "add"), "%s: capabilities added" % what)
    for k in ("runAsUser", "runAsGroup"):
        check(csc.get(k) in (None, 65532), "%s: container %s overrides 65532" % (what, k))
    check(csc.get("runAsNonRoot") is not False, "%s: container runAsNonRoot is false" % what)

    image = c.get("image", "")
    check(image.endswith(":" + cargo_version), "%s: image %r is not tagged with the crate version %s" % (what, image, cargo_version))
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        check(dig(c, probe, "httpGet", "path") == path, "%s: %s path is not %s" % (what, probe, path))
        check(dig(c, probe, "httpGet", "port") == "metrics", "%s: %s port is not metrics" % (what, probe))
    res = c.get("resources", {})
    check(set(dig(res, "requests", default={})) == {"cpu", "memory"}, "%s: requests are not cpu and memory: %r" % (what, res.get("requests")))
    check(set(dig(res, "limits", default={})) == {"memory"}, "%s: limits are not memory only: %r" % (what, res.get("limits")))
    return c


def check_env(check, what, c, fixed, wanted):
    """The container's env is exactly `fixed` (name -> fieldPath of the
    downward API) and `wanted` (name -> value)."""
    env = {e.get("name"): e for e in c.get("env", [])}
    check(len(env) == len(c.get("env", [])), "%s: duplicate env names" % what)
    for name, field in fixed.items():
        check(dig(env, name, "valueFrom", "fieldRef", "fieldPath") == field, "%s: %s is not the downward API's %s" % (what, name, field))
    wanted = dict(wanted)
    for name, e in env.items():
        if name in fixed:
            continue
        check(name in wanted, "%s: unexpected env %s" % (what, name))
        check(e.get("value") == wanted.pop(name, e.get("value")), "%s: env %s=%r" % (what, name, e.get("value")))
    check(not wanted, "%s: env missing: %s" % (what, wanted))


def check_deployment(check, dep, ds, expect, cargo_version):
    """eniwatch-cluster: one replica replaced, not rolled (two would double
    the EC2 calls and race on the ConfigMap), hardened as the DaemonSet."""
    what = "Deployment %s" % CLUSTER
    spec = dig(dep, "spec", "template", "spec", default={})
    check(dig(dep, "metadata", "namespace") == NAMESPACE, "%s: not in %s" % (what, NAMESPACE))
    check(dig(dep, "spec", "replicas") == 1, "%s: replicas is not 1" % what)
    check(dig(dep, "spec", "strategy") == {"type": "Recreate"}, "%s: strategy is not Recreate" % what)
    check(dig(dep, "spec", "selector", "matchLabels") == CLUSTER_SELECTOR, "%s: selector is not %s" % (what, CLUSTER_SELECTOR))
    labels = dig(dep, "spec", "template", "metadata", "labels", default={})
    check(all(labels.get(k) == v for k, v in CLUSTER_SELECTOR.items()), "%s: pod labels do not match the selector" % what)
    check(not any(labels.get(k) == v for k, v in SELECTOR.items()), "%s: pod labels match the agent's selector" % what)
    check(spec.get("serviceAccountName") == CLUSTER, "%s: serviceAccountName is not %s" % (what, CLUSTER))
    check(not spec.get("hostNetwork"), "%s: hostNetwork set: it needs only the API server and EC2" % what)
    check(dig(spec, "nodeSelector", "kubernetes.io/os") == "linux", "%s: nodeSelector kubernetes.io/os=linux missing" % what)
    c = check_hardening(check, what, spec, cargo_version)
    if c is None:
        return
    if ds is not None:
        ds_spec = dig(ds, "spec", "template", "spec", default={})
        check(spec.get("securityContext") == ds_spec.get("securityContext"), "%s: pod securityContext differs from the DaemonSet's" % what)
        ds_c = (ds_spec.get("containers") or [{}])[0]
        check(c.get("securityContext") == ds_c.get("securityContext"), "%s: container securityContext differs from the DaemonSet's" % what)
        check(c.get("image") == ds_c.get("image"), "%s: image %r is not the DaemonSet's %r (one image)" % (what, c.get("image"), ds_c.get("image")))
    check(c.get("command") == CLUSTER_COMMAND, "%s: command %r, expected %r" % (what, c.get("command"), CLUSTER_COMMAND))
    args = ["run"] + expect.get("cluster_args", [])
    check(c.get("args") == args, "%s: args %r, expected %r" % (what, c.get("args"), args))
    check_env(check, what, c, {"POD_NAMESPACE": "metadata.namespace"}, expect.get("cluster_env", {}))
    ports = c.get("ports", [])
    check(ports == [{"name": "metrics", "containerPort": 9743, "protocol": "TCP"}], "%s: ports are not exactly metrics 9743/TCP: %r" % (what, ports))


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
    check(spec.get("serviceAccountName") == APP, "serviceAccountName is not %s" % APP)
    check(spec.get("automountServiceAccountToken") is False, "the default service account token mount is on: its token may be extended to a year")
    token = [src["serviceAccountToken"] for v in spec.get("volumes", [])
             for src in dig(v, "projected", "sources", default=[]) if "serviceAccountToken" in src]
    check(len(token) == 1 and token[0].get("expirationSeconds") == 3600 and token[0].get("path") == "token",
          "no projected service account token of 3600 s at path token")
    mounts = [m.get("mountPath") for c in spec.get("containers", []) for m in c.get("volumeMounts", [])]
    check("/var/run/secrets/kubernetes.io/serviceaccount" in mounts, "the token volume is not mounted where clients read it")
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

    c = check_hardening(check, "DaemonSet", spec, cargo_version)
    if c is None:
        return
    check(c.get("command") is None, "command overrides the image's ENTRYPOINT")
    check(c.get("args") == ["run"] + expect.get("args", []), "args %r, expected %r" % (c.get("args"), ["run"] + expect.get("args", [])))

    check_env(check, "DaemonSet", c, {"NODE_NAME": "spec.nodeName"}, expect.get("env", {}))

    ports = c.get("ports", [])
    check(
        ports == [{"name": "metrics", "containerPort": 9742, "hostPort": 9742, "protocol": "TCP"}],
        "ports are not exactly metrics 9742/TCP: %r" % ports,
    )
    res = c.get("resources", {})
    check(res.get("requests") == {"cpu": "10m", "memory": "32Mi"}, "requests are not cpu 10m, memory 32Mi: %r" % res.get("requests"))
    check(res.get("limits") == {"memory": "64Mi"}, "limits are not memory 64Mi only: %r" % res.get("limits"))


SERVICEMONITOR_KEYS = {"selector", "namespaceSelector", "endpoints", "jobLabel", "targetLabels", "podTargetLabels", "sampleLimit"}
ENDPOINT_KEYS = {"port", "path", "interval", "scrapeTimeout", "scheme", "relabelings", "metricRelabelings", "honorLabels"}
RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}


def check_scrape(check, by_key, name, pods, port):
    """Service `name` (headless) selects `pods`' labels on `port`, and the
    ServiceMonitor `name` selects that Service, so that job=`name`."""
    svc = by_key[("Service", name)]
    pod_labels = dig(pods, "spec", "template", "metadata", "labels", default={}) if pods else {}
    selector = dig(svc, "spec", "selector", default={})
    check(selector and all(pod_labels.get(k) == v for k, v in selector.items()), "Service %s selector does not select its pods" % name)
    check(dig(svc, "spec", "clusterIP") == "None", "Service %s is not headless" % name)
    check(
        dig(svc, "spec", "ports") == [{"name": "metrics", "port": port, "targetPort": "metrics", "protocol": "TCP"}],
        "Service %s ports are not metrics %d -> metrics" % (name, port),
    )
    sm = by_key[("ServiceMonitor", name)]
    check(set(sm.get("spec", {})) <= SERVICEMONITOR_KEYS, "ServiceMonitor %s has unknown spec fields %s" % (name, set(sm.get("spec", {})) - SERVICEMONITOR_KEYS))
    sm_sel = dig(sm, "spec", "selector", "matchLabels", default={})
    svc_labels = dig(svc, "metadata", "labels", default={})
    check(sm_sel and all(svc_labels.get(k) == v for k, v in sm_sel.items()), "ServiceMonitor %s selector does not select the Service" % name)
    others = [k for k, o in by_key.items() if k[0] == "Service" and k[1] != name
              and all(dig(o, "metadata", "labels", default={}).get(k2) == v for k2, v in sm_sel.items())]
    check(not others, "ServiceMonitor %s also selects %s" % (name, others))
    check(dig(sm, "spec", "namespaceSelector") is None, "ServiceMonitor %s namespaceSelector set: it must look in its own namespace" % name)
    check(dig(sm, "metadata", "namespace") == dig(svc, "metadata", "namespace"), "ServiceMonitor %s and its Service in different namespaces" % name)
    check(dig(sm, "spec", "jobLabel") is None, "ServiceMonitor %s jobLabel set: the rules expect job=%s (the Service name)" % (name, name))
    endpoints = dig(sm, "spec", "endpoints", default=[])
    check(len(endpoints) == 1, "ServiceMonitor %s needs exactly one endpoint" % name)
    for ep in endpoints:
        check(set(ep) <= ENDPOINT_KEYS, "ServiceMonitor %s endpoint has unknown fields %s" % (name, set(ep) - ENDPOINT_KEYS))
        check(ep.get("port") == "metrics" and ep.get("path", "/metrics") == "/metrics", "ServiceMonitor %s endpoint is not port metrics /metrics" % name)


def check_monitoring(check, by_key, ds):
    check_scrape(check, by_key, APP, ds, 9742)
    check_scrape(check, by_key, CLUSTER, by_key.get(("Deployment", CLUSTER)), 9743)
    pr = by_key[("PrometheusRule", APP)]
    groups = dig(pr, "spec", "groups", default=[])
    check(set(pr.get("spec", {})) == {"groups"} and groups, "PrometheusRule spec must be exactly non-empty groups")
    for g in groups:
        check(set(g) <= {"name", "interval", "rules"} and g.get("rules"), "rule group %r malformed" % g.get("name"))
        for r in g.get("rules", []):
            check(set(r) <= RULE_KEYS, "rule %r has unknown fields %s" % (r.get("alert"), set(r) - RULE_KEYS))
    for name, path in DASHBOARDS.items():
        cm = by_key[("ConfigMap", name)]
        check(dig(cm, "metadata", "labels", "grafana_dashboard") == "1", "ConfigMap %s lacks label grafana_dashboard: \"1\"" % name)
        check(dig(cm, "metadata", "namespace") == NAMESPACE, "ConfigMap %s not in %s" % (name, NAMESPACE))
        with open(os.path.join(ROOT, path)) as f:
            check(cm.get("data") == {os.path.basename(path): f.read()}, "ConfigMap %s data is not %s" % (name, path))


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
    dep = by_key.get(("Deployment", CLUSTER))
    if dep is not None:
        check_deployment(check, dep, ds, expect, cargo_version)
    if MONITORING_OBJECTS <= set(by_key) and ds is not None:
        check_monitoring(check, by_key, ds)


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
