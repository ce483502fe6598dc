//! Label selectors in apimachinery's grammar: equality (`k=v`, `k==v`,
//! `k!=v`), existence (`k`, `!k`), set-based (`k in (a,b)`, `k notin (a,b)`)
//! and the numeric `k<n` / `k>n`, with label key and value validation, so
//! a selector the real server would reject is rejected here too (400).

use serde_json::Value;

use super::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum LabelReq {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Gt(String, i64),
    Lt(String, i64),
}

/// A parsed label selector: all requirements must hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct LabelSelector(Vec<LabelReq>);

impl LabelSelector {
    pub(crate) fn parse(text: &str) -> Result<Self, ApiError> {
        parse_labels(text).map(LabelSelector)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        let labels = obj.get("metadata").and_then(|m| m.get("labels"));
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        let number = |k: &str| label(k).and_then(|l| l.parse::<i64>().ok());
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => label(k) == Some(v),
            LabelReq::Ne(k, v) => label(k) != Some(v),
            LabelReq::Exists(k) => label(k).is_some(),
            LabelReq::NotExists(k) => label(k).is_none(),
            LabelReq::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::Gt(k, n) => number(k).is_some_and(|l| l > *n),
            LabelReq::Lt(k, n) => number(k).is_some_and(|l| l < *n),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Op(&'static str),
}

fn lex(text: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        let two = |chars: &mut std::iter::Peekable<std::str::Chars>, second: char| {
            chars.next();
            if chars.peek() == Some(&second) {
                chars.next();
                true
            } else {
                false
            }
        };
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => toks.push(Tok::Op(if two(&mut chars, '=') { "==" } else { "=" })),
            '!' => toks.push(Tok::Op(if two(&mut chars, '=') { "!=" } else { "!" })),
            '(' | ')' | ',' | '<' | '>' => {
                chars.next();
                toks.push(Tok::Op(match c {
                    '(' => "(",
                    ')' => ")",
                    ',' => ",",
                    '<' => "<",
                    _ => ">",
                }));
            }
            _ => {
                let mut word = String::new();
                while let Some(&w) = chars.peek() {
                    if w.is_whitespace() || "=!(),<>".contains(w) {
                        break;
                    }
                    word.push(w);
                    chars.next();
                }
                toks.push(Tok::Word(word));
            }
        }
    }
    toks
}

fn valid_name(s: &str, max: usize) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    s.len() <= max
        && s.chars().all(ok_char)
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

fn valid_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty()
                && prefix.len() <= 253
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c))
                && valid_name(name, 63)
        }
        None => valid_name(key, 63),
    }
}

fn valid_value(v: &str) -> bool {
    v.is_empty() || valid_name(v, 63)
}

fn parse_labels(text: &str) -> Result<Vec<LabelReq>, ApiError> {
    let bad = |why: String| ApiError::bad_request(format!("unable to parse requirement: {why}"));
    let toks = lex(text);
    let mut reqs = Vec::new();
    let mut i = 0;
    let word = |i: usize| match toks.get(i) {
        Some(Tok::Word(w)) => Some(w.clone()),
        _ => None,
    };
    let key_at = |i: usize| {
        word(i).filter(|k| valid_key(k)).ok_or_else(|| {
            bad(format!(
                "found '{}', expected: identifier",
                show(toks.get(i))
            ))
        })
    };
    while i < toks.len() {
        if toks[i] == Tok::Op("!") {
            reqs.push(LabelReq::NotExists(key_at(i + 1)?));
            i += 2;
        } else {
            let key = key_at(i)?;
            i += 1;
            match toks.get(i) {
                None | Some(Tok::Op(",")) => reqs.push(LabelReq::Exists(key)),
                Some(Tok::Op(op @ ("=" | "==" | "!="))) => {
                    // `k=` (empty value) is valid and selects an empty label.
                    let value = word(i + 1).unwrap_or_default();
                    if !valid_value(&value) {
                        return Err(bad(format!("values[0][{key}]: Invalid value: \"{value}\"")));
                    }
                    i += if word(i + 1).is_some() { 2 } else { 1 };
                    reqs.push(if *op == "!=" {
                        LabelReq::Ne(key, value)
                    } else {
                        LabelReq::Eq(key, value)
                    });
                }
                Some(Tok::Op(op @ ("<" | ">"))) => {
                    let n = word(i + 1)
                        .and_then(|w| w.parse::<i64>().ok())
                        .ok_or_else(|| {
                            bad(format!("for '{op}' operator, the value must be an integer"))
                        })?;
                    i += 2;
                    reqs.push(if *op == "<" {
                        LabelReq::Lt(key, n)
                    } else {
                        LabelReq::Gt(key, n)
                    });
                }
                Some(Tok::Word(w)) if w == "in" || w == "notin" => {
                    let notin = w == "notin";
                    i += 1;
                    if toks.get(i) != Some(&Tok::Op("(")) {
                        return Err(bad(format!("found '{}', expected: '('", show(toks.get(i)))));
                    }
                    i += 1;
                    let mut values = Vec::new();
                    loop {
                        match toks.get(i) {
                            Some(Tok::Word(v)) if valid_value(v) => values.push(v.clone()),
                            Some(Tok::Op(",")) => {}
                            Some(Tok::Op(")")) => break,
                            other => {
                                return Err(bad(format!(
                                    "found '{}', expected: ',' or ')'",
                                    show(other)
                                )))
                            }
                        }
                        i += 1;
                    }
                    i += 1;
                    if values.is_empty() {
                        return Err(bad(
                            "for 'in', 'notin' operators, values set can't be empty".into(),
                        ));
                    }
                    reqs.push(if notin {
                        LabelReq::NotIn(key, values)
                    } else {
                        LabelReq::In(key, values)
                    });
                }
                other => {
                    return Err(bad(format!(
                        "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                        show(other)
                    )))
                }
            }
        }
        match toks.get(i) {
            None => {}
            Some(Tok::Op(",")) => i += 1,
            other => return Err(bad(format!("found '{}', expected: ','", show(other)))),
        }
    }
    Ok(reqs)
}

fn show(tok: Option<&Tok>) -> String {
    match tok {
        Some(Tok::Word(w)) => w.clone(),
        Some(Tok::Op(o)) => (*o).to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({"metadata": {"name": "p", "labels": {"app": "web", "tier": "3"}}})
    }

    fn sel(labels: &str) -> Result<bool, u16> {
        LabelSelector::parse(labels)
            .map(|s| s.matches(&pod()))
            .map_err(|e| e.code)
    }

    #[test]
    fn label_selector_grammar() {
        assert_eq!(sel("app=web"), Ok(true));
        assert_eq!(sel("app==web,tier"), Ok(true));
        assert_eq!(sel("app!=web"), Ok(false));
        assert_eq!(sel("!app"), Ok(false));
        assert_eq!(sel("missing!=x, !missing"), Ok(true));
        assert_eq!(sel("app in (db, web)"), Ok(true));
        assert_eq!(sel("app notin (db,web)"), Ok(false));
        assert_eq!(sel("missing notin (a)"), Ok(true));
        assert_eq!(sel("tier>2,tier<4"), Ok(true));
        assert_eq!(sel(""), Ok(true));
        assert_eq!(sel("app in ()"), Err(400));
        assert_eq!(sel("app in (web"), Err(400));
        assert_eq!(sel("a b"), Err(400));
    }
}
