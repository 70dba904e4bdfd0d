//! The token and the request guard of `flowlab serve` (docs/serve.md, "Security").
//!
//! - A random token is made at every start and printed in the URL (as Jupyter does).
//! - Every request that is not GET/HEAD (start a run, replay, save) must carry it in the
//!   `X-Flowlab-Token` header or the `token` query parameter. The cookie set after a visit
//!   with `?token=` is not enough for those: a cookie rides along with a cross-site form, a
//!   header cannot be set by another origin without a CORS preflight, which is never granted.
//! - Bound to a non-loopback address, every request needs the token (header, query or cookie).
//! - Bound to loopback, the `Host` header must name a loopback host: a page of another site
//!   that re-points its DNS name at 127.0.0.1 (DNS rebinding) is refused.
//!
//! The guard is one layer over the whole router, so routes nested later (the interactive fit
//! pages) are covered alike.
use super::ServeState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Name of the cookie that remembers the token after a visit with `?token=`.
pub const COOKIE: &str = "flowlab_token";
/// Header that carries the token on actions.
pub const HEADER: &str = "x-flowlab-token";

/// Whether this request carried the token (in header, query or cookie): put into the
/// request's extensions by [`guard`]; pages embed the token for their actions only then.
#[derive(Debug, Clone, Copy)]
pub struct Authed(pub bool);

/// A new random token: 32 bytes of the operating system's generator, hex.
pub fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(hex::encode(b))
}

/// Equality that takes the same time wherever the first difference is.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `token` query parameter of a raw query string (percent-decoded).
pub(crate) fn query_token(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|kv| kv.strip_prefix("token=")).map(|v| super::files::percent_decode(v).unwrap_or_default())
}

/// The token cookie, if any.
fn cookie_token(req: &Request) -> Option<String> {
    req.headers().get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")).map(str::to_string))
}

/// Whether a `Host` header names a loopback host (`127.0.0.1`, `localhost`, `[::1]`, any port).
pub fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') { rest.split(']').next().unwrap_or("") } else { host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host) };
    matches!(name, "localhost" | "::1") || name.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

fn refuse(status: StatusCode, msg: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{msg}\n")).into_response()
}

/// The guard (see the module documentation), plus headers every answer carries.
pub async fn guard(State(st): State<ServeState>, mut req: Request, next: Next) -> Response {
    if st.loopback() {
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if !loopback_host(host) {
            return refuse(StatusCode::FORBIDDEN, "refused: the Host header does not name this machine (flowlab serve is bound to loopback)");
        }
    }
    let token = st.token();
    let strong = query_token(req.uri().query()).is_some_and(|t| same(&t, token)) || req.headers().get(HEADER).and_then(|h| h.to_str().ok()).is_some_and(|t| same(t, token));
    let via_query = query_token(req.uri().query()).is_some_and(|t| same(&t, token));
    let authed = strong || cookie_token(&req).is_some_and(|t| same(&t, token));
    let action = !matches!(*req.method(), Method::GET | Method::HEAD);
    if action && !strong {
        return refuse(StatusCode::FORBIDDEN, "refused: this action needs the token printed by `flowlab serve` (header X-Flowlab-Token or ?token=)");
    }
    if !st.loopback() && !authed {
        return refuse(StatusCode::UNAUTHORIZED, "refused: flowlab serve is bound to a non-loopback address; open the URL with ?token= that it printed");
    }
    req.extensions_mut().insert(Authed(authed));
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if via_query && let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict")) {
        h.append(header::SET_COOKIE, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // the token may be in the address: never send it on as a referrer
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1:8737", "localhost:1", "[::1]:80", "127.0.0.2:9", "localhost"] {
            assert!(loopback_host(h), "{h}");
        }
        for h in ["evil.example:8737", "10.0.0.1:80", "", "[::2]:1", "localhost.evil.example:1"] {
            assert!(!loopback_host(h), "{h}");
        }
    }

    #[test]
    fn token_comparison() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd") && !same("abc", "ab") && !same("", "a"));
        let t = new_token().unwrap();
        assert_eq!(t.len(), 64);
        assert_ne!(t, new_token().unwrap());
    }
}
