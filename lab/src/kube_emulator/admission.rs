//! The shipped ValidatingAdmissionPolicies (deploy/base/admission-policy.yaml,
//! compiled in, so what is tested is exactly what ships), evaluated with a
//! real CEL interpreter (the `cel` crate) on the writes they confine: node
//! status patches and event writes.
//!
//! Policy, as the real API server applies `admissionregistration.k8s.io/v1`:
//! - Only requests whose bearer token was registered
//!   ([`KubeState::add_identity`]) are admitted through the policies; any
//!   other request is served as before (anonymous, allowed).
//! - A policy applies when a binding with `validationActions: [Deny]` names
//!   it, a `matchConstraints.resourceRules` entry matches the request
//!   (group, version, operation, resource or `resource/subresource`) and
//!   every `matchConditions` expression is true.
//! - CEL variables: `object` (after the patch), `oldObject` (as stored; null
//!   on CREATE), `request` (operation, name, namespace, resource, subResource,
//!   userInfo) and `variables`, each evaluated in order; one that fails is
//!   left out, so only the expressions that use it fail, as the server
//!   evaluates variables lazily.
//! - The first failing validation denies: `<resource> "<name>" is forbidden:
//!   ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied
//!   request: <message>`, with the validation's `reason` and its code
//!   (Forbidden 403, Unauthorized 401, RequestEntityTooLarge 413, else
//!   Invalid 422), and that message as the one `details.causes` entry. The
//!   message is the `messageExpression`'s string, else `message`, else
//!   `failed expression: <expression>`.
//! - An expression that cannot be evaluated, under `failurePolicy: Fail`,
//!   denies like the server: reason Invalid (422), message `expression
//!   '<expression>' resulted in error: <error>`. Under `Ignore` it admits.

use std::collections::HashMap;

use cel::{Context, Program, Value as Cel};
use serde::Deserialize;
use serde_json::{json, Value};

use axum::http::HeaderMap;

use super::handlers::Target;
use super::identity::UserInfo;
use super::resources::{Kind, ResourceDef};
use super::status::ApiError;
use super::KubeState;

const SHIPPED: &str = include_str!("../../../deploy/base/admission-policy.yaml");

/// One write as admission sees it.
pub(crate) struct Attributes<'a> {
    /// `CREATE` or `UPDATE` (a PATCH is admitted as an UPDATE).
    pub operation: &'static str,
    pub def: &'static ResourceDef,
    pub sub: Option<&'a str>,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub object: &'a Value,
    pub old: Option<&'a Value>,
}

#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("admission-policy.yaml: {0}")]
    Yaml(String),
    #[error("admission-policy.yaml: policy {policy}: expression {expression:?}: {message}")]
    Compile {
        policy: String,
        expression: String,
        message: String,
    },
}

struct Expr {
    source: String,
    program: Program,
}

struct Validation {
    expr: Expr,
    message: Option<String>,
    message_expression: Option<Expr>,
    reason: Option<String>,
}

struct Rule {
    groups: Vec<String>,
    versions: Vec<String>,
    operations: Vec<String>,
    resources: Vec<String>,
}

struct Policy {
    name: String,
    fail_closed: bool,
    rules: Vec<Rule>,
    match_conditions: Vec<Expr>,
    variables: Vec<(String, Expr)>,
    validations: Vec<Validation>,
}

/// Admits a write whose validation passed (`object` as it would be stored,
/// `old` as stored): through the policies when its token is registered.
pub(crate) fn check(
    state: &KubeState,
    headers: &HeaderMap,
    operation: &'static str,
    target: &Target,
    name: &str,
    object: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let Some(user) = state.identity(headers) else {
        return Ok(());
    };
    let attrs = Attributes {
        operation,
        def: target.def,
        sub: target.sub.as_deref(),
        name,
        namespace: target.namespace.as_deref(),
        object,
        old,
    };
    admit(&user, &attrs)
}

/// Enforces the shipped policies on `attrs` made by `user`, where they
/// apply (node status patches, event writes and ConfigMap writes only).
pub(crate) fn admit(user: &UserInfo, attrs: &Attributes) -> Result<(), ApiError> {
    let confined = match attrs.def.kind {
        Kind::Node => attrs.sub == Some("status"),
        Kind::Event | Kind::CoreEvent | Kind::ConfigMap => true,
        _ => false,
    };
    if !confined {
        return Ok(());
    }
    let (policies, bindings) = load().map_err(|e| ApiError::internal(e.to_string()))?;
    for (binding, policy_name) in &bindings {
        let Some(policy) = policies.iter().find(|p| &p.name == policy_name) else {
            continue;
        };
        if let Err(denial) = evaluate(policy, user, attrs) {
            return Err(denied(attrs, policy, binding, denial));
        }
    }
    Ok(())
}

/// Why a policy denied: the message and the reason (None: Invalid).
struct Denial {
    message: String,
    reason: Option<String>,
}

fn denied(attrs: &Attributes, policy: &Policy, binding: &str, d: Denial) -> ApiError {
    let message = format!(
        "ValidatingAdmissionPolicy '{}' with binding '{binding}' denied request: {}",
        policy.name, d.message
    );
    let (code, reason) = match d.reason.as_deref() {
        Some("Forbidden") => (403, "Forbidden"),
        Some("Unauthorized") => (401, "Unauthorized"),
        Some("RequestEntityTooLarge") => (413, "RequestEntityTooLarge"),
        _ => (422, "Invalid"),
    };
    let mut details = json!({"name": attrs.name, "kind": attrs.def.plural,
                             "causes": [{"message": message}]});
    if !attrs.def.group.is_empty() {
        details["group"] = json!(attrs.def.group);
    }
    ApiError {
        code,
        reason,
        message: format!(
            "{} \"{}\" is forbidden: {message}",
            attrs.def.group_resource(),
            attrs.name
        ),
        details: Some(details),
    }
}

fn rule_matches(rule: &Rule, attrs: &Attributes) -> bool {
    let any = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x == v);
    let resource = match attrs.sub {
        Some(sub) => format!("{}/{sub}", attrs.def.plural),
        None => attrs.def.plural.to_string(),
    };
    let resource_ok = rule.resources.iter().any(|r| {
        r == "*" && attrs.sub.is_none()
            || *r == resource
            || attrs.sub.is_some() && *r == format!("{}/*", attrs.def.plural)
            || attrs.sub.is_some_and(|s| *r == format!("*/{s}"))
    });
    any(&rule.groups, attrs.def.group)
        && any(&rule.versions, attrs.def.version)
        && any(&rule.operations, attrs.operation)
        && resource_ok
}

fn request(user: &UserInfo, attrs: &Attributes) -> Value {
    let mut req = json!({
        "operation": attrs.operation,
        "name": attrs.name,
        "namespace": attrs.namespace.unwrap_or(""),
        "kind": {"group": attrs.def.group, "version": attrs.def.version, "kind": attrs.def.kind_name},
        "resource": {"group": attrs.def.group, "version": attrs.def.version,
                     "resource": attrs.def.plural},
        "userInfo": user,
    });
    if let Some(sub) = attrs.sub {
        req["subResource"] = json!(sub);
    }
    req
}

fn to_cel(v: &Value) -> Cel {
    // serde_json values always serialise (string keys, finite numbers).
    cel::to_value(v).unwrap_or(Cel::Null)
}

fn error_denial(policy: &Policy, expr: &Expr, error: String) -> Result<(), Denial> {
    if policy.fail_closed {
        Err(Denial {
            message: format!("expression '{}' resulted in error: {error}", expr.source),
            reason: None,
        })
    } else {
        Ok(())
    }
}

/// Runs one policy: Ok when it admits (or does not apply).
fn evaluate(policy: &Policy, user: &UserInfo, attrs: &Attributes) -> Result<(), Denial> {
    if !policy.rules.iter().any(|r| rule_matches(r, attrs)) {
        return Ok(());
    }
    let mut ctx = Context::default();
    ctx.add_variable_from_value("object", to_cel(attrs.object));
    ctx.add_variable_from_value("oldObject", attrs.old.map_or(Cel::Null, to_cel));
    ctx.add_variable_from_value("request", to_cel(&request(user, attrs)));
    for cond in &policy.match_conditions {
        match cond.program.execute(&ctx) {
            Ok(Cel::Bool(true)) => {}
            Ok(Cel::Bool(false)) => return Ok(()),
            Ok(other) => return error_denial(policy, cond, format!("not a bool: {other:?}")),
            Err(e) => return error_denial(policy, cond, e.to_string()),
        }
    }
    let mut variables: HashMap<String, Cel> = HashMap::new();
    for (name, expr) in &policy.variables {
        ctx.add_variable_from_value("variables", Cel::from(variables.clone()));
        if let Ok(v) = expr.program.execute(&ctx) {
            variables.insert(name.clone(), v);
        }
    }
    ctx.add_variable_from_value("variables", Cel::from(variables));
    for v in &policy.validations {
        match v.expr.program.execute(&ctx) {
            Ok(Cel::Bool(true)) => {}
            Ok(Cel::Bool(false)) => {
                return Err(Denial {
                    message: message(v, &ctx),
                    reason: v.reason.clone(),
                })
            }
            Ok(other) => return error_denial(policy, &v.expr, format!("not a bool: {other:?}")),
            Err(e) => return error_denial(policy, &v.expr, e.to_string()),
        }
    }
    Ok(())
}

fn message(v: &Validation, ctx: &Context) -> String {
    let from_expression =
        v.message_expression
            .as_ref()
            .and_then(|m| match m.program.execute(ctx) {
                Ok(Cel::String(s)) if !s.trim().is_empty() => Some(s.to_string()),
                _ => None,
            });
    from_expression
        .or_else(|| v.message.clone())
        .unwrap_or_else(|| format!("failed expression: {}", v.expr.source))
}

// --- loading -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    kind: String,
    metadata: Meta,
    spec: Value,
}

#[derive(Deserialize)]
struct Meta {
    name: String,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn compile(policy: &str, source: &str) -> Result<Expr, LoadError> {
    let program = Program::compile(source).map_err(|e| LoadError::Compile {
        policy: policy.into(),
        expression: source.into(),
        message: e.to_string(),
    })?;
    Ok(Expr {
        source: source.to_string(),
        program,
    })
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn policy(name: String, spec: &Value) -> Result<Policy, LoadError> {
    let expressions = |list: &str| -> Vec<&Value> {
        spec.get(list)
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    };
    let source = |v: &Value| str_field(v, "expression").unwrap_or_default();
    let rules = spec["matchConstraints"]["resourceRules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| Rule {
            groups: strings(&r["apiGroups"]),
            versions: strings(&r["apiVersions"]),
            operations: strings(&r["operations"]),
            resources: strings(&r["resources"]),
        })
        .collect();
    let mut match_conditions = Vec::new();
    for c in expressions("matchConditions") {
        match_conditions.push(compile(&name, &source(c))?);
    }
    let mut variables = Vec::new();
    for v in expressions("variables") {
        let var = str_field(v, "name").unwrap_or_default();
        variables.push((var, compile(&name, &source(v))?));
    }
    let mut validations = Vec::new();
    for v in expressions("validations") {
        let message_expression = match str_field(v, "messageExpression") {
            Some(m) => Some(compile(&name, &m)?),
            None => None,
        };
        validations.push(Validation {
            expr: compile(&name, &source(v))?,
            message: str_field(v, "message"),
            message_expression,
            reason: str_field(v, "reason"),
        });
    }
    Ok(Policy {
        fail_closed: spec.get("failurePolicy").and_then(Value::as_str) != Some("Ignore"),
        name,
        rules,
        match_conditions,
        variables,
        validations,
    })
}

/// The shipped policies, and the Deny bindings as (binding, policy) names.
type Loaded = (Vec<Policy>, Vec<(String, String)>);

fn load() -> Result<Loaded, LoadError> {
    let mut policies = Vec::new();
    let mut bindings = Vec::new();
    for doc in serde_norway::Deserializer::from_str(SHIPPED) {
        let doc = Doc::deserialize(doc).map_err(|e| LoadError::Yaml(e.to_string()))?;
        match doc.kind.as_str() {
            "ValidatingAdmissionPolicy" => policies.push(policy(doc.metadata.name, &doc.spec)?),
            "ValidatingAdmissionPolicyBinding" => {
                if strings(&doc.spec["validationActions"])
                    .iter()
                    .any(|a| a == "Deny")
                {
                    let target = str_field(&doc.spec, "policyName").unwrap_or_default();
                    bindings.push((doc.metadata.name, target));
                }
            }
            other => return Err(LoadError::Yaml(format!("unexpected kind {other}"))),
        }
    }
    Ok((policies, bindings))
}

/// For tests: the shipped policies load and compile.
#[cfg(test)]
pub(crate) fn loads() -> Result<usize, String> {
    load().map(|(p, _)| p.len()).map_err(|e| e.to_string())
}
