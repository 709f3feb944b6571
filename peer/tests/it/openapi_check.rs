//! Checks replies against the daemon's OpenAPI document: the status is one the operation
//! documents, and a JSON body has every required field of the documented schema, with the
//! documented types, all the way down. [`Api`] is a daemon's API whose every reply is checked.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::http_client::{send, Reply, Req};
use super::util::Peer;

/// Bound on one API call in the tests.
pub const LIMIT: Duration = Duration::from_secs(30);

/// One daemon's API, every reply checked against the document.
pub struct Api {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The home's access token.
    pub token: String,
    /// The document.
    pub doc: Doc,
    /// (method, template, status) of every checked reply.
    pub seen: Mutex<Vec<(String, String, u16)>>,
}

impl Api {
    /// The API of `p`'s running daemon.
    pub fn of(p: &Peer) -> Api {
        let (addr, token) = p.http();
        Api {
            addr,
            token,
            doc: Doc::load(),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// `method path` with the token and `body`, checked against the operation whose template
    /// `path` fits.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let template = self.doc.template_of(method, path);
        let mut req = Req::new(method, path).bearer(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let reply = send(&self.addr, &req, LIMIT).await;
        self.doc.check(method, &template, &reply);
        self.seen
            .lock()
            .unwrap()
            .push((method.into(), template, reply.status));
        reply
    }

    /// `GET path`, checked.
    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None).await
    }

    /// `POST path` with `body`, checked.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call("POST", path, Some(body)).await
    }

    /// `POST path` without a body, checked.
    pub async fn post_empty(&self, path: &str) -> Reply {
        self.call("POST", path, None).await
    }

    /// `DELETE path`, checked.
    pub async fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None).await
    }
}

/// Asserts the status, showing the body if it is another.
pub fn assert_status(r: &Reply, status: u16) {
    assert_eq!(
        r.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&r.body)
    );
}

/// The parsed document.
pub struct Doc(pub Value);

impl Doc {
    /// Parses the document compiled into the daemon.
    pub fn load() -> Doc {
        Doc(serde_json::from_str(peer::daemon::http::OPENAPI_JSON).expect("openapi.json parses"))
    }

    /// Every (method, path template) the document lists.
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut ops = Vec::new();
        for (path, item) in self.0["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
        ops
    }

    /// The template of the documented `method` operation that `path` fits (a `{param}` segment
    /// fits any one segment; a template without parameters wins).
    pub fn template_of(&self, method: &str, path: &str) -> String {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let mut fits: Vec<String> = self
            .operations()
            .into_iter()
            .filter(|(m, _)| m == method)
            .map(|(_, t)| t)
            .filter(|t| {
                let ts: Vec<&str> = t.split('/').collect();
                ts.len() == segments.len()
                    && ts
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
            })
            .collect();
        fits.sort_by_key(|t| t.matches('{').count());
        fits.into_iter()
            .next()
            .unwrap_or_else(|| panic!("{method} {path} fits no operation of the document"))
    }

    /// Asserts `reply` to `method template` is documented: its status, and its body against
    /// that status's schema.
    pub fn check(&self, method: &str, template: &str, reply: &Reply) {
        let op = &self.0["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the document");
        let status = reply.status.to_string();
        let documented = &op["responses"][&status];
        assert!(
            documented.is_object(),
            "{method} {template} answered {status}, which the document does not list: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let Some(schema) = documented["content"]["application/json"]["schema"].as_object() else {
            return;
        };
        let body = reply.json();
        self.validate(
            &Value::Object(schema.clone()),
            &body,
            &format!("{method} {template} {status}"),
        );
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => {
                let name = r.rsplit('/').next().expect("ref name");
                &self.0["components"]["schemas"][name]
            }
            None => schema,
        }
    }

    /// Asserts `value` fits `schema` (types, required fields, enums, nullable).
    pub fn validate(&self, schema: &Value, value: &Value, at: &str) {
        let schema = self.resolve(schema);
        if value.is_null() {
            assert!(
                schema["nullable"] == Value::Bool(true),
                "{at}: null where {schema} is not nullable"
            );
            return;
        }
        if let Some(options) = schema["enum"].as_array() {
            assert!(
                options.contains(value),
                "{at}: {value} is not one of {options:?}"
            );
        }
        match schema["type"].as_str() {
            Some("object") => {
                let obj = value
                    .as_object()
                    .unwrap_or_else(|| panic!("{at}: {value} is not an object"));
                for req in schema["required"].as_array().into_iter().flatten() {
                    let key = req.as_str().expect("required names");
                    assert!(
                        obj.contains_key(key),
                        "{at}: required field {key:?} missing in {value}"
                    );
                }
                if let Some(props) = schema["properties"].as_object() {
                    for (key, sub) in props {
                        if let Some(v) = obj.get(key) {
                            self.validate(sub, v, &format!("{at}.{key}"));
                        }
                    }
                }
            }
            Some("array") => {
                let items = value
                    .as_array()
                    .unwrap_or_else(|| panic!("{at}: {value} is not an array"));
                for (i, v) in items.iter().enumerate() {
                    self.validate(&schema["items"], v, &format!("{at}[{i}]"));
                }
            }
            Some("string") => assert!(value.is_string(), "{at}: {value} is not a string"),
            Some("integer") => assert!(
                value.is_u64() || value.is_i64(),
                "{at}: {value} is not an integer"
            ),
            Some("number") => assert!(value.is_number(), "{at}: {value} is not a number"),
            Some("boolean") => assert!(value.is_boolean(), "{at}: {value} is not a boolean"),
            _ => {}
        }
    }
}
