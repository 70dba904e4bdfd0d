//! HTML helpers of `flowlab serve`: escaping, the page frame, small pieces shared by pages.
//! Pages are rendered on the server; the stylesheet and the script are compiled into the
//! binary (`assets/`), nothing is fetched from elsewhere.
use std::fmt::Write as _;

/// The stylesheet.
pub const CSS: &str = include_str!("assets/app.css");
/// The script: sorting and filtering links, compare selection, live updates, actions.
pub const JS: &str = include_str!("assets/app.js");

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Percent-encodes a query or path component (unreserved characters kept).
pub fn enc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

/// Percent-encodes a relative path, keeping its slashes.
pub fn enc_path(p: &str) -> String {
    p.split('/').map(enc).collect::<Vec<_>>().join("/")
}

/// Links of the navigation bar: (path, label). Pages added elsewhere (the interactive fit)
/// add theirs here.
pub const NAV: &[(&str, &str)] = &[("/", "Experiments"), ("/fit", "Interactive fit")];

/// A whole page: title, breadcrumbs (label, link), body. `token` (shown only to a visitor
/// who presented it) goes into a meta tag that the script sends with actions.
pub fn page(title: &str, crumbs: &[(String, String)], body: &str, token: Option<&str>) -> String {
    let meta = token.map(|t| format!(r#"<meta name="flowlab-token" content="{}">"#, esc(t))).unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">{meta}
<title>{title} · flowlab</title><link rel="stylesheet" href="/static/app.css"><script src="/static/app.js" defer></script></head>
<body>{bar}
<main>{body}</main></body></html>
"#,
        title = esc(title),
        bar = site_bar(crumbs)
    )
}

/// The site's bar on every page (the interactive fit's too): brand, [`NAV`], breadcrumbs
/// (label, link; an empty link is the current page).
pub fn site_bar(crumbs: &[(String, String)]) -> String {
    let mut nav = String::new();
    for (href, label) in NAV {
        let _ = write!(nav, r#"<a href="{}">{}</a>"#, esc(href), esc(label));
    }
    let mut bc = String::new();
    for (i, (label, href)) in crumbs.iter().enumerate() {
        if i > 0 {
            bc.push_str(r#"<span class="sep">/</span>"#);
        }
        if href.is_empty() {
            let _ = write!(bc, "<span>{}</span>", esc(label));
        } else {
            let _ = write!(bc, r#"<a href="{}">{}</a>"#, esc(href), esc(label));
        }
    }
    format!(r#"<header class="top"><a class="brand" href="/">flowlab</a><nav>{nav}</nav><div class="crumbs">{bc}</div></header>"#)
}

/// A status word as a coloured badge.
pub fn badge(status: &str) -> String {
    let class = match status {
        "ok" | "done" | "equal" => "ok",
        "failed" | "differs" => "bad",
        "stale" | "running" => "warn",
        _ => "muted",
    };
    format!(r#"<span class="badge {class}">{}</span>"#, esc(status))
}

/// A two-column key/value table; `rows` as (key, value HTML).
pub fn kv_table(rows: &[(String, String)]) -> String {
    if rows.is_empty() {
        return r#"<p class="muted">(none)</p>"#.into();
    }
    let mut t = String::from(r#"<table class="kv"><tbody>"#);
    for (k, v) in rows {
        let _ = write!(t, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    t.push_str("</tbody></table>");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(esc(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(enc("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
        assert_eq!(enc_path("a b/c"), "a%20b/c");
    }
}
