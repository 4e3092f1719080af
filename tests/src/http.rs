//! A blocking HTTP client for tests of what nodes serve over HTTP (the metrics endpoint,
//! the observer), run off the runtime's threads.

use std::time::Duration;

/// A response: status, `Set-Cookie` if any, and body.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The `Set-Cookie` header, if any.
    pub cookie: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body as text.
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut r = r.expect("an HTTP answer");
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (cookie, content_type) = (header("set-cookie"), header("content-type"));
    Answer {
        status: r.status().as_u16(),
        cookie,
        content_type,
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// `GET url` with `headers`.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    let url = url.to_string();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    actors::rt::spawn_blocking(move || {
        let mut req = agent().get(&url);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        answer(req.call())
    })
    .await
}

/// `POST url` with `headers` and a body of `content_type`.
pub async fn post(url: &str, headers: &[(&str, &str)], content_type: &str, body: &str) -> Answer {
    let (url, content_type, body) = (url.to_string(), content_type.to_string(), body.to_string());
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    actors::rt::spawn_blocking(move || {
        let mut req = agent().post(&url).content_type(content_type);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        answer(req.send(body))
    })
    .await
}
