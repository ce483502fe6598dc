"""RBAC of the rendered kustomizations: each program's exact rules (with
resource names where a rule is limited to one object), bound to its own
ServiceAccount only; no AWS role on the agent's (for scripts/check_manifests.py)."""

import re

from manifests_common import APP, CLUSTER, FACTS, NAMESPACE, dig

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")

# RBAC rules as {(apiGroup, resource, resourceNames): verbs}; () is "any name".
AGENT_RULES = {
    ("", "nodes", ()): {"get", "list", "watch"},
    ("", "pods", ()): {"get", "list", "watch"},
    ("crd.k8s.amazonaws.com", "eniconfigs", ()): {"get", "list", "watch"},
    ("", "nodes/status", ()): {"patch"},
    ("events.k8s.io", "events", ()): {"create"},
}
AGENT_ROLE_RULES = {("", "configmaps", FACTS): {"get", "list", "watch"}}
NODE_RBAC_RULES = {("crd.k8s.amazonaws.com", "eniconfigs", ()): {"get", "list", "watch"}}
CLUSTER_RULES = {
    ("", "nodes", ()): {"list", "watch"},
    ("crd.k8s.amazonaws.com", "eniconfigs", ()): {"list", "watch"},
    ("eks.amazonaws.com", "nodeclasses", ()): {"list", "watch"},
}
CLUSTER_ROLE_RULES = {
    # create cannot be limited by name (the object does not exist yet).
    ("", "configmaps", ()): {"create"},
    ("", "configmaps", FACTS): {"get", "list", "watch", "update", "patch"},
}
CLUSTER_EVENTS_RULES = {("events.k8s.io", "events", ()): {"create", "patch"}}


def rbac_rules(role):
    """{(apiGroup, resource, resourceNames): verbs} of a Role or ClusterRole."""
    rules = {}
    for r in role.get("rules", []):
        names = tuple(sorted(r.get("resourceNames", [])))
        for group in r.get("apiGroups", []):
            for res in r.get("resources", []):
                rules.setdefault((group, res, names), set()).update(r.get("verbs", []))
        if r.get("nonResourceURLs"):
            rules[("?", "nonResourceURLs", ())] = {"unexpected"}
    return rules


def check_binding(check, by_key, kind, name, role_kind, subjects, namespace=None):
    """The binding `name` binds the role of the same name, to `subjects` only."""
    binding = by_key.get((kind, name), {})
    check(dig(binding, "metadata", "namespace") == namespace, "%s %s: namespace is not %s" % (kind, name, namespace))
    check(
        dig(binding, "roleRef") == {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
        "%s %s: roleRef is not %s %s" % (kind, name, role_kind, name),
    )
    check(binding.get("subjects") == subjects, "%s %s: subjects %r, expected %r" % (kind, name, binding.get("subjects"), subjects))


def check_role(check, by_key, kind, name, wanted, namespace=None):
    role = by_key.get((kind, name), {})
    check(dig(role, "metadata", "namespace") == namespace, "%s %s: namespace is not %s" % (kind, name, namespace))
    check(rbac_rules(role) == wanted, "%s %s grants %r, expected %r" % (kind, name, rbac_rules(role), wanted))


def check_rbac(check, by_key, name):
    if name == "node-rbac":
        nodes = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:nodes"}]
        check_role(check, by_key, "ClusterRole", "eniwatch:nodes-read-eniconfigs", NODE_RBAC_RULES)
        check_binding(check, by_key, "ClusterRoleBinding", "eniwatch:nodes-read-eniconfigs", "ClusterRole", nodes)
        check_role(check, by_key, "Role", "eniwatch:nodes-read-cluster-facts", AGENT_ROLE_RULES, NAMESPACE)
        check_binding(check, by_key, "RoleBinding", "eniwatch:nodes-read-cluster-facts", "Role", nodes, NAMESPACE)
        return
    agent = [{"kind": "ServiceAccount", "name": APP, "namespace": NAMESPACE}]
    check_role(check, by_key, "ClusterRole", APP, AGENT_RULES)
    check_binding(check, by_key, "ClusterRoleBinding", APP, "ClusterRole", agent)
    check_role(check, by_key, "Role", APP, AGENT_ROLE_RULES, NAMESPACE)
    check_binding(check, by_key, "RoleBinding", APP, "Role", agent, NAMESPACE)
    sa = by_key.get(("ServiceAccount", APP), {})
    check(dig(sa, "metadata", "namespace") == NAMESPACE, "ServiceAccount not in %s" % NAMESPACE)
    if ("Deployment", CLUSTER) not in by_key:
        return
    cluster = [{"kind": "ServiceAccount", "name": CLUSTER, "namespace": NAMESPACE}]
    check_role(check, by_key, "ClusterRole", CLUSTER, CLUSTER_RULES)
    check_binding(check, by_key, "ClusterRoleBinding", CLUSTER, "ClusterRole", cluster)
    check_role(check, by_key, "Role", CLUSTER, CLUSTER_ROLE_RULES, NAMESPACE)
    check_binding(check, by_key, "RoleBinding", CLUSTER, "Role", cluster, NAMESPACE)
    # Events about ENIConfigs and Nodes (cluster-scoped) go to namespace default.
    check_role(check, by_key, "Role", CLUSTER + "-events", CLUSTER_EVENTS_RULES, "default")
    check_binding(check, by_key, "RoleBinding", CLUSTER + "-events", "Role", cluster, "default")
    sa = by_key.get(("ServiceAccount", CLUSTER), {})
    check(dig(sa, "metadata", "namespace") == NAMESPACE, "ServiceAccount %s not in %s" % (CLUSTER, NAMESPACE))


def role_arn(by_key, sa):
    annotations = dig(by_key.get(("ServiceAccount", sa), {}), "metadata", "annotations", default={}) or {}
    return annotations.get("eks.amazonaws.com/role-arn")


def check_irsa(check, by_key, wanted):
    # The agent makes no AWS call: its ServiceAccount never gets a role.
    check(role_arn(by_key, APP) is None, "the agent's ServiceAccount has a role-arn annotation: it needs no AWS credentials")
    if ("ServiceAccount", CLUSTER) not in by_key:
        return
    arn = role_arn(by_key, CLUSTER)
    if wanted:
        check(arn is not None and ROLE_ARN.match(arn), "ServiceAccount %s role-arn annotation %r is not an IAM role ARN" % (CLUSTER, arn))
    else:
        check(arn is None, "ServiceAccount %s has a role-arn annotation outside the irsa overlays" % CLUSTER)
