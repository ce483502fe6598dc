"""What scripts/check_manifests.py and its parts share: names and helpers."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMESPACE = "kube-system"
APP = "eniwatch"
SELECTOR = {"app.kubernetes.io/name": APP}
CLUSTER = "eniwatch-cluster"
CLUSTER_SELECTOR = {"app.kubernetes.io/name": CLUSTER}
# The ConfigMap eniwatch-cluster publishes and the agents read.
FACTS = ("eniwatch-cluster-facts",)
# The Deployment runs the image's second binary (manifests_image checks the
# image has it there).
CLUSTER_COMMAND = ["/usr/local/bin/eniwatch-cluster"]


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
