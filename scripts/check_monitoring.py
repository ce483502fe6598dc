#!/usr/bin/env python3
"""Prepares and checks eniwatch's alerting rules and Grafana dashboard.

    check_monitoring.py --rendered FILE --out DIR

FILE is `kubectl kustomize` output that holds the PrometheusRule and the
dashboard ConfigMaps (the agents' eniwatch.json, eniwatch-cluster's
eniwatch-cluster.json). Writes into DIR, for promtool:

- eniwatch.rules.yaml: the PrometheusRule's spec (a plain rules file);
- alerts-test.yaml: a copy of the component's unit tests (which name
  eniwatch.rules.yaml);
- dashboard.rules.yaml: every PromQL expression of the dashboards (panel
  targets and the metric selectors of template variable queries) as a
  recording rule, with Grafana's variables replaced by sample values, so that
  `promtool check rules` parses each one.

Checks, exiting 1 with one line per problem:

- every alert has summary, description and a runbook_url whose section
  exists in docs/runbook.md, and a severity of critical, warning or info;
- every alert has a unit test where it fires and one where it does not;
- each dashboard: its uid is its file's name, unique panel ids, panels inside
  the 24-column grid and not overlapping, every panel and target on the
  $datasource variable, every target with an expression, every $variable
  used is defined.
"""

import argparse
import json
import os
import re
import shutil
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = "deploy/components/prometheus-operator/tests/alerts-test.yaml"
RUNBOOK = "docs/runbook.md"
SEVERITIES = {"critical", "warning", "info"}

# Sample values for Grafana's variables: the dashboard's own and the built-in
# ones it uses. A variable missing here is an error, not a silent pass.
SAMPLE = {
    "datasource": "prometheus",
    "zone": "us-east-1a|us-east-1b",
    "nodegroup": ".*",
    "node": "ip-10-0-1-23.ec2.internal",
    "__rate_interval": "2m",
    "__interval": "1m",
    "__range": "6h",
}
BUILTIN = {"__rate_interval", "__interval", "__range"}


class Problems(list):
    def __call__(self, ok, message):
        if not ok:
            self.append(message)
        return ok


def github_anchors(markdown):
    """The anchors GitHub gives the headings of a markdown file."""
    anchors = set()
    for line in markdown.splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            text = re.sub(r"[`*_]", "", m.group(1)).strip().lower()
            text = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
            anchors.add(text)
    return anchors


def check_rules(check, spec, tests):
    with open(os.path.join(ROOT, RUNBOOK)) as f:
        anchors = github_anchors(f.read())
    alerts = [r for g in spec.get("groups", []) for r in g.get("rules", []) if "alert" in r]
    check(bool(alerts), "no alerts in the PrometheusRule")
    names = [a["alert"] for a in alerts]
    check(len(names) == len(set(names)), "duplicate alert names")
    for a in alerts:
        name = a["alert"]
        ann = a.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            check(bool(ann.get(key)), "%s: no %s annotation" % (name, key))
        url = ann.get("runbook_url", "")
        path, _, anchor = url.partition("#")
        check(path.endswith(RUNBOOK), "%s: runbook_url %r is not in %s" % (name, url, RUNBOOK))
        check(anchor in anchors, "%s: %s has no section #%s" % (name, RUNBOOK, anchor))
        check(anchor == name.lower(), "%s: runbook anchor should be #%s" % (name, name.lower()))
        check(a.get("labels", {}).get("severity") in SEVERITIES, "%s: severity not one of %s" % (name, sorted(SEVERITIES)))
        check("for" in a, "%s: no `for`" % name)

    fires, quiet = set(), set()
    for t in tests.get("tests", []):
        for case in t.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else quiet).add(case.get("alertname"))
    for name in names:
        check(name in fires, "%s: no unit test where it fires (%s)" % (name, TESTS))
        check(name in quiet, "%s: no unit test where it does not fire (%s)" % (name, TESTS))
    for name in (fires | quiet) - set(names):
        check(False, "%s: tested but not defined" % name)


def substitute(check, where, expr, defined):
    def sub(m):
        var = m.group(1) or m.group(2)
        check(var in defined or var in BUILTIN, "%s: uses undefined variable $%s" % (where, var))
        check(var in SAMPLE, "%s: no sample value for $%s in scripts/check_monitoring.py" % (where, var))
        return SAMPLE.get(var, "x")

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", sub, expr)


DASHBOARDS = ["eniwatch.json", "eniwatch-cluster.json"]


def check_dashboard(check, file, dash):
    exprs = []
    variables = dash.get("templating", {}).get("list", [])
    defined = {v.get("name") for v in variables}
    uid = file[: -len(".json")]
    check(dash.get("uid") == uid and dash.get("title"), "%s: uid must be %s, with a title" % (file, uid))
    check("datasource" in defined, "%s: no $datasource variable" % file)
    for v in variables:
        if v.get("type") != "query":
            continue
        q = v.get("query", {})
        q = q.get("query", "") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", q)
        if check(m is not None, "variable %s: query %r is not label_values(<selector>, <label>)" % (v.get("name"), q)):
            exprs.append(("%s variable %s" % (file, v.get("name")), substitute(check, "variable " + v["name"], m.group(1), defined)))
        check(v.get("datasource", {}).get("uid") == "${datasource}", "variable %s: datasource is not ${datasource}" % v.get("name"))

    ids, cells = set(), {}
    for p in dash.get("panels", []):
        title = "%s panel %r" % (file, p.get("title"))
        check(p.get("id") not in ids, "%s: duplicate id %s" % (title, p.get("id")))
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        x, y, w, h = (g.get(k, -1) for k in "xywh")
        check(x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= 24, "%s: gridPos %r outside the grid" % (title, g))
        for yy in range(max(y, 0), max(y, 0) + max(h, 0)):
            for xx in range(max(x, 0), max(x, 0) + max(w, 0)):
                check((xx, yy) not in cells, "%s overlaps %s" % (title, cells.get((xx, yy))))
                cells[(xx, yy)] = title
        if p.get("type") == "row":
            check(not p.get("panels"), "%s: collapsed rows hide panels from this check" % title)
            continue
        check(p.get("datasource", {}).get("uid") == "${datasource}", "%s: datasource is not ${datasource}" % title)
        targets = p.get("targets", [])
        check(bool(targets), "%s: no targets" % title)
        for t in targets:
            where = "%s target %s" % (title, t.get("refId"))
            check(t.get("datasource", {}).get("uid") == "${datasource}", "%s: datasource is not ${datasource}" % where)
            if check(bool(t.get("expr", "").strip()), "%s: no expr" % where):
                exprs.append((where, substitute(check, where, t["expr"], defined)))
    return exprs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rendered", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    check = Problems()
    with open(args.rendered) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    rules = [o for o in objects if o.get("kind") == "PrometheusRule"]
    maps = [o for o in objects if o.get("kind") == "ConfigMap" and o.get("metadata", {}).get("labels", {}).get("grafana_dashboard") == "1"]
    files = sorted(k for m in maps for k in m.get("data", {}))
    if not check(len(rules) == 1 and files == sorted(DASHBOARDS), "%s: expected one PrometheusRule and the dashboards %s, found %s" % (args.rendered, DASHBOARDS, files)):
        print("\n".join("FAIL " + p for p in check))
        return 1
    os.makedirs(args.out, exist_ok=True)
    spec = rules[0]["spec"]
    with open(os.path.join(args.out, "eniwatch.rules.yaml"), "w") as f:
        yaml.safe_dump(spec, f, sort_keys=False)
    shutil.copy(os.path.join(ROOT, TESTS), os.path.join(args.out, "alerts-test.yaml"))
    with open(os.path.join(ROOT, TESTS)) as f:
        tests = yaml.safe_load(f)
    check(tests.get("rule_files") == ["eniwatch.rules.yaml"], "%s: rule_files must be [eniwatch.rules.yaml]" % TESTS)
    check_rules(check, spec, tests)

    exprs = []
    for m in maps:
        for file, data in m["data"].items():
            exprs += check_dashboard(check, file, json.loads(data))
    check(len(exprs) > 0, "dashboard: no expressions")
    group = {"name": "dashboard", "rules": [{"record": "dashboard:expr_%d" % i, "expr": e} for i, (_, e) in enumerate(exprs)]}
    with open(os.path.join(args.out, "dashboard.rules.yaml"), "w") as f:
        yaml.safe_dump({"groups": [group]}, f, sort_keys=False)
    with open(os.path.join(args.out, "dashboard.index"), "w") as f:
        for i, (where, _) in enumerate(exprs):
            f.write("dashboard:expr_%d\t%s\n" % (i, where))

    for p in check:
        print("FAIL " + p)
    if check:
        return 1
    alerts = sum(1 for g in spec["groups"] for r in g["rules"] if "alert" in r)
    print("monitoring: %d alerts with runbook sections and firing/quiet tests, %d dashboard expressions extracted" % (alerts, len(exprs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
