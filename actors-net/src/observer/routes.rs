//! The observer's requests: the page and its assets, the cluster as JSON and as a stream of
//! server-sent events, a process in full, and the two actions. Everything but the assets
//! needs the token; the actions need to have been enabled.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;

use super::cluster::Cluster;
use crate::http::{self, Body, Server};
use crate::node::DistNode;

const PAGE: &str = include_str!("assets/page.html");
const SCRIPT: &str = include_str!("assets/observer.js");
const STYLE: &str = include_str!("assets/observer.css");

/// The cookie the page's token is kept in, once given in its URL.
const COOKIE: &str = "actors_observer";

/// The largest request body taken (an action names one pid or node).
const MAX_BODY: usize = 4096;

/// What answers the observer's requests.
pub(crate) struct Site {
    pub(crate) cluster: Cluster,
    pub(crate) token: String,
    pub(crate) every: Duration,
    pub(crate) server: OnceLock<Server>,
}

impl Site {
    fn stopped(&self) -> bool {
        self.server.get().is_some_and(Server::is_stopped) || self.cluster.node().is_none()
    }

    /// Whether the request carries the token, in the cookie or as a bearer token.
    fn authorized(&self, req: &Request<Incoming>) -> bool {
        let headers = req.headers();
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.strip_prefix("Bearer "))
            .any(|t| same(t.trim(), &self.token));
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(k, v)| k == COOKIE && same(v, &self.token));
        bearer || cookie
    }
}

/// Compares a token in time that does not depend on where they first differ.
fn same(given: &str, token: &str) -> bool {
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn query(req: &Request<Incoming>, key: &str) -> Option<String> {
    let q = req.uri().query()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    http::respond(status, "application/json", body)
}

fn not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = http::text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("this path takes {allow}\n"),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn unauthorized() -> Response<Body> {
    http::text(
        StatusCode::UNAUTHORIZED,
        "this observer needs its token: open the URL it printed when it started (…/?token=…)\n",
    )
}

/// Answers one request.
pub(crate) async fn handle(site: Arc<Site>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let allow = match path.as_str() {
        "/" | "/observer.js" | "/observer.css" | "/api/snapshot" | "/api/events"
        | "/api/process" => "GET",
        "/api/kill" | "/api/disconnect" => "POST",
        _ => return http::text(StatusCode::NOT_FOUND, format!("nothing at {path}\n")),
    };
    if method.as_str() != allow {
        return not_allowed(allow);
    }
    match path.as_str() {
        "/observer.js" => return asset("text/javascript; charset=utf-8", SCRIPT),
        "/observer.css" => return asset("text/css; charset=utf-8", STYLE),
        "/" => return page(&site, &req),
        _ => {}
    }
    if !site.authorized(&req) {
        return unauthorized();
    }
    match path.as_str() {
        "/api/snapshot" => match site.cluster.snapshot().await {
            Some(s) => json(StatusCode::OK, s.to_string()),
            None => gone(),
        },
        "/api/events" => events(site),
        "/api/process" => process(&site, &req).await,
        "/api/kill" => kill(&site, req).await,
        _ => disconnect(&site, req).await,
    }
}

fn gone() -> Response<Body> {
    http::text(
        StatusCode::SERVICE_UNAVAILABLE,
        "the node is shutting down\n",
    )
}

fn asset(content_type: &str, body: &'static str) -> Response<Body> {
    let mut r = http::respond(StatusCode::OK, content_type, body);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The page; its URL's token, if right, is kept in a cookie for what the page asks next.
fn page(site: &Site, req: &Request<Incoming>) -> Response<Body> {
    let given = query(req, "token");
    let by_url = given.as_deref().is_some_and(|t| same(t, &site.token));
    if !by_url && !site.authorized(req) {
        return unauthorized();
    }
    let mut r = http::respond(StatusCode::OK, "text/html; charset=utf-8", PAGE);
    let headers = r.headers_mut();
    // Scripts and styles from this server only: nothing the cluster names can run as code.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:"),
    );
    if by_url
        && let Ok(cookie) = HeaderValue::from_str(&format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            site.token
        ))
    {
        headers.insert(header::SET_COOKIE, cookie);
    }
    r
}

/// The cluster, again and again, as server-sent events, until the page goes away or the
/// observer stops.
fn events(site: Arc<Site>) -> Response<Body> {
    let stream = futures::stream::unfold((site, true), |(site, first)| async move {
        if !first {
            actors::rt::sleep(site.every).await;
        }
        if site.stopped() {
            return None;
        }
        let snapshot = site.cluster.snapshot().await?;
        let frame = Frame::data(Bytes::from(format!("data: {snapshot}\n\n")));
        Some((Ok::<_, Infallible>(frame), (site, false)))
    })
    .boxed();
    let mut r = Response::new(http_body_util::StreamBody::new(stream).boxed_unsync());
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn process(site: &Site, req: &Request<Incoming>) -> Response<Body> {
    let Some(id) = query(req, "pid") else {
        return http::text(StatusCode::BAD_REQUEST, "name the process: ?pid=#PID<…>\n");
    };
    let Some(pid) = site.cluster.pid(&id) else {
        return http::text(
            StatusCode::NOT_FOUND,
            format!("{id} is not a process shown here (it may have ended)\n"),
        );
    };
    match site.cluster.detail(&pid).await {
        Some(detail) => match serde_json::to_string(&detail) {
            Ok(body) => json(StatusCode::OK, body),
            Err(e) => http::text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        None => http::text(StatusCode::NOT_FOUND, format!("{id} is not alive\n")),
    }
}

/// The body of an action, as JSON of type `T`; or the response saying what is wrong.
async fn action<T: for<'de> Deserialize<'de>>(
    site: &Site,
    req: Request<Incoming>,
) -> Result<T, Response<Body>> {
    if !site.cluster.actions() {
        return Err(http::text(
            StatusCode::FORBIDDEN,
            "actions are off: start the observer with .actions(true) to allow them\n",
        ));
    }
    // JSON only: a form on another site cannot send it without the browser asking first.
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(http::text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the action as application/json\n",
        ));
    }
    let body = http::body(req, MAX_BODY).await?;
    serde_json::from_slice(&body)
        .map_err(|e| http::text(StatusCode::BAD_REQUEST, format!("bad action: {e}\n")))
}

#[derive(Deserialize)]
struct Kill {
    pid: String,
}

async fn kill(site: &Site, req: Request<Incoming>) -> Response<Body> {
    let kill: Kill = match action(site, req).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let (Some(pid), Some(node)) = (site.cluster.pid(&kill.pid), site.cluster.node()) else {
        return http::text(
            StatusCode::NOT_FOUND,
            format!("{} is not a process shown here\n", kill.pid),
        );
    };
    tracing::warn!(node = %node.name(), pid = %pid.logged(), "killed from the observer");
    node.kill(pid);
    json(StatusCode::OK, "{\"killed\":true}")
}

#[derive(Deserialize)]
struct Disconnect {
    node: String,
}

async fn disconnect(site: &Site, req: Request<Incoming>) -> Response<Body> {
    let asked: Disconnect = match action(site, req).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Some(node) = site.cluster.node() else {
        return gone();
    };
    if !node.disconnect(&asked.node) {
        return http::text(
            StatusCode::NOT_FOUND,
            format!("{} is not connected to {}\n", asked.node, node.name()),
        );
    }
    tracing::warn!(node = %node.name(), peer = %asked.node, "disconnected from the observer");
    json(StatusCode::OK, "{\"disconnected\":true}")
}
