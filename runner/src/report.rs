//! Reports: tera templates rendered from stored results only (docs/design.md §8 Reports). `.tex`
//! output is autoescaped with [`latex_escape`]; numbers are formatted by our filters
//! (runner/src/report_filters.rs), never ad hoc; every cell carries its sweep-point label
//! (runner/src/report_context.rs).
use crate::error::ReportError;
use crate::manifest::ReportDecl;
use crate::plan::Plan;
use crate::store::Store;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The static preamble every report `\input`s (macros never go through tera).
pub const PREAMBLE: &str = "flowlab-preamble.tex";

/// LaTeX escape for autoescaped `.tex` templates: `P_mix #2 & 50%` → `P\_mix \#2 \& 50\%`.
pub fn latex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '<' => out.push_str("\\textless{}"),
            '>' => out.push_str("\\textgreater{}"),
            _ => out.push(c),
        }
    }
    out
}

/// `s | latex`: escapes text for LaTeX (for strings built inside a template).
fn latex(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(latex_escape(&match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })))
}

/// Tera's built-in functions that read outside the stored results: the environment
/// (`get_env`), the clock (`now`) and a random source (`get_random`). A report is rendered
/// from stored results only and must come out byte-identical on a rerun (README: Reports).
/// (Files are out of reach already: the engine holds just the report's own template, so
/// `include`, `import` and `extends` can name nothing else.)
const DENIED_FUNCTIONS: [&str; 3] = ["get_env", "now", "get_random"];

/// A tera instance with our escape function and filters, and without the functions of
/// [`DENIED_FUNCTIONS`] (each is replaced by one that fails with an explanation).
pub fn engine() -> tera::Tera {
    let mut t = tera::Tera::default();
    t.autoescape_on(vec![".tex"]);
    t.set_escape_fn(latex_escape);
    // the number filters write LaTeX (`$…\times10^{…}$`, `\num{…}`, `\%`): their output is
    // final, so a template needs no `| safe` after them (escaping it printed the markup)
    crate::report_filters::register(&mut t);
    t.register_filter("latex", latex);
    for name in DENIED_FUNCTIONS {
        t.register_function(name, move |_: &HashMap<String, Value>| -> tera::Result<Value> {
            Err(tera::Error::msg(format!("`{name}()` is not available in reports: a report renders from stored results only (no environment, clock or random source)")))
        });
    }
    t
}

/// How deep macro calls and `include`s may nest while a report renders. Tera has no limit of
/// its own, so a macro that calls itself without end overflows the stack, and a stack
/// overflow aborts the process (it cannot be caught). The renderer's stack use grows with
/// this nesting only: every other construct nests no deeper than the template text, which
/// is bounded by the file. Rendering runs on a thread with [`RENDER_STACK`] bytes of stack,
/// far more than this many levels need (a level took under 4 KiB when measured: 2000
/// levels rendered in 8 MiB), so a template hits this limit, a report error, long before the
/// stack runs out. 200 levels is more than any tree-shaped report needs.
const MAX_NESTING: usize = 200;
/// Stack of the rendering thread (reserved, not committed: only the pages touched count).
const RENDER_STACK: usize = 64 << 20;
/// Names of the nesting counters the renderer calls. Not identifiers, so no template can
/// call them (and so undo the count).
const ENTER: &str = "(nesting limit)";
const LEAVE: &str = "(nesting limit) leave";

fn counter_call(name: &str) -> tera::ast::Node {
    use tera::ast::{Expr, ExprVal, FunctionCall, Node, WS};
    Node::VariableBlock(WS::default(), Expr::new(ExprVal::FunctionCall(FunctionCall { name: name.into(), args: HashMap::new() })))
}

/// Wraps every `include` in `nodes` (at any depth) between the two counter calls.
fn count_includes(nodes: &mut Vec<tera::ast::Node>) {
    use tera::ast::Node;
    let mut out = Vec::with_capacity(nodes.len());
    for mut n in nodes.drain(..) {
        match &mut n {
            Node::Include(..) => {
                out.push(counter_call(ENTER));
                out.push(n);
                out.push(counter_call(LEAVE));
                continue;
            }
            Node::If(i, _) => {
                i.conditions.iter_mut().for_each(|c| count_includes(&mut c.2));
                if let Some((_, b)) = &mut i.otherwise {
                    count_includes(b);
                }
            }
            Node::Forloop(_, f, _) => {
                count_includes(&mut f.body);
                if let Some(b) = &mut f.empty_body {
                    count_includes(b);
                }
            }
            Node::Block(_, b, _) => count_includes(&mut b.body),
            Node::FilterSection(_, f, _) => count_includes(&mut f.body),
            Node::MacroDefinition(_, m, _) => count_includes(&mut m.body),
            _ => {}
        }
        out.push(n);
    }
    *nodes = out;
}

/// Makes template `name` of `t` count its macro and include nesting and fail past
/// [`MAX_NESTING`] (see there). Every macro body starts with an `ENTER` call and ends with a
/// `LEAVE` call (a macro body has no early exit), and so does every `include`.
fn limit_nesting(t: &mut tera::Tera, name: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let depth = std::sync::Arc::new(AtomicUsize::new(0));
    let d = depth.clone();
    t.register_function(ENTER, move |_: &HashMap<String, Value>| -> tera::Result<Value> {
        if d.fetch_add(1, Ordering::Relaxed) >= MAX_NESTING {
            return Err(tera::Error::msg(format!("macro calls or includes nest deeper than {MAX_NESTING} levels (a recursion without an end?)")));
        }
        Ok(Value::String(String::new()))
    });
    t.register_function(LEAVE, move |_: &HashMap<String, Value>| -> tera::Result<Value> {
        depth.fetch_sub(1, Ordering::Relaxed);
        Ok(Value::String(String::new()))
    });
    let Some(tpl) = t.templates.get_mut(name) else { return };
    for m in tpl.macros.values_mut() {
        count_includes(&mut m.body);
        m.body.insert(0, counter_call(ENTER));
        m.body.push(counter_call(LEAVE));
    }
    count_includes(&mut tpl.ast);
    tpl.blocks.values_mut().for_each(|b| count_includes(&mut b.body));
    tpl.blocks_definitions.values_mut().flatten().for_each(|(_, b)| count_includes(&mut b.body));
}

/// Parses and renders `text` as template `name` on a thread with a [`RENDER_STACK`] stack
/// (the parser and renderer recurse; see [`MAX_NESTING`]). Errors carry tera's cause chain.
fn render_text(name: &str, text: &str, ctx: &tera::Context) -> Result<String, String> {
    std::thread::scope(|s| {
        let job = std::thread::Builder::new().name("report".into()).stack_size(RENDER_STACK).spawn_scoped(s, || {
            let mut t = engine();
            t.add_raw_template(name, &crate::report_filters::annotate_lines(text)).map_err(|e| tera_message(&e))?;
            limit_nesting(&mut t, name);
            t.render(name, ctx).map_err(|e| tera_message(&e))
        });
        match job {
            Ok(h) => h.join().unwrap_or_else(|_| Err("the renderer panicked".into())),
            Err(e) => Err(format!("cannot start the rendering thread: {e}")),
        }
    })
}

/// Renders template `text` (named `name` in messages) over a context given as a JSON object,
/// with the filters, limits and escaping of a report; for tests of the shipped templates.
pub fn render_json(name: &str, text: &str, ctx: &Value) -> Result<String, String> {
    let ctx = tera::Context::from_value(ctx.clone()).map_err(|e| tera_message(&e))?;
    render_text(name, text, &ctx)
}

/// Finds the templates directory: explicit, `FLOWLAB_TEMPLATES`, `templates/` in the
/// manifest's directory or one of its parents, else beside the executable or in one of its
/// parents (a build's `target/release/flowlab` finds its repository's `templates/`, so a
/// manifest kept outside the repository still gets its reports).
pub fn templates_dir(explicit: Option<&Path>, manifest_dir: &Path) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("FLOWLAB_TEMPLATES") {
        return Some(PathBuf::from(p));
    }
    let start = manifest_dir.canonicalize().unwrap_or_else(|_| manifest_dir.to_path_buf());
    start.ancestors().map(|a| a.join("templates")).find(|p| p.is_dir()).or_else(|| {
        let exe = std::env::current_exe().ok()?;
        exe.ancestors().skip(1).map(|a| a.join("templates")).find(|p| p.is_dir())
    })
}

fn tera_message(e: &tera::Error) -> String {
    use std::error::Error as _;
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn relative(from_dir: &Path, to: &Path) -> String {
    // both inside results/<experiment>; count the components of from_dir below the root
    let mut up = PathBuf::new();
    let mut base = from_dir.to_path_buf();
    loop {
        if let Ok(rest) = to.strip_prefix(&base) {
            return up.join(rest).to_string_lossy().replace('\\', "/");
        }
        if !base.pop() {
            return to.to_string_lossy().into_owned();
        }
        up.push("..");
    }
}

/// The template context from stored records.
pub fn context(plan: &Plan, store: &Store, records: &[Value], report_file: &Path) -> tera::Context {
    let m = &plan.manifest;
    let report_dir = report_file.parent().unwrap_or(Path::new("."));
    let mut cells = Vec::new();
    let mut tasks: Map<String, Value> = Map::new();
    for r in records {
        let mut c = r.clone();
        let id = r["cell_id"].as_str().unwrap_or("");
        if let Some(o) = c.as_object_mut() {
            o.insert("artifact_dir".into(), Value::String(relative(report_dir, &store.artifact_dir(id))));
        }
        cells.push(c);
    }
    crate::report_context::label_cells(&mut cells, m.experiment.replicates);
    for c in cells.iter().filter(|c| c["kind"] == "task") {
        let t = c["task"].as_str().unwrap_or("").to_string();
        tasks.entry(t).or_insert_with(|| Value::Array(vec![])).as_array_mut().expect("array").push(c.clone());
    }
    let groups: Map<String, Value> = tasks.iter().map(|(t, cs)| (t.clone(), Value::Array(crate::report_context::groups(cs.as_array().map(Vec::as_slice).unwrap_or_default())))).collect();
    let datasets: Vec<Value> = plan
        .dataset_order
        .iter()
        .map(|id| {
            let d = &plan.datasets[id];
            json!({"id": id, "format": d.format, "path": d.decl.path, "plugin": d.decl.plugin, "options": d.decl.options})
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert(
        "experiment",
        &json!({"name": m.experiment.name, "description": m.experiment.description, "seed": m.experiment.seed, "replicates": m.experiment.replicates, "metadata": m.experiment.metadata}),
    );
    ctx.insert("cells", &cells);
    ctx.insert("tasks", &tasks);
    ctx.insert("groups", &groups);
    ctx.insert("datasets", &datasets);
    ctx.insert("failed", &records.iter().filter(|r| r["status"] != "ok").count());
    ctx
}

/// Why `p` cannot name a file inside its directory, if it cannot: empty, absolute, an
/// empty, `.` or `..` segment, or a trailing `/` (a directory).
fn relative_file_problem(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        return Some("is empty");
    }
    if p.starts_with('/') || Path::new(p).is_absolute() {
        return Some("is absolute");
    }
    if p.ends_with('/') {
        return Some("ends in `/` (a directory, not a file)");
    }
    for seg in p.split(['/', '\\']) {
        match seg {
            "" => return Some("has an empty path segment (`//`)"),
            "." | ".." => return Some("has a `.` or `..` segment"),
            _ => {}
        }
    }
    None
}

/// A problem of a `[[report]]` declaration: the key it is about and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclProblem {
    /// `template` or `output`.
    pub key: &'static str,
    /// Message.
    pub message: String,
}

/// Checks a `[[report]]` before anything runs (manifest check): `template` names a file in
/// the templates directory and `output` a file in the report directory (both relative,
/// no `.`/`..` segment, not a directory), `output` is not the preamble's name and no
/// report of `earlier` (those declared before) writes the same `output`.
pub fn check_decl(r: &ReportDecl, earlier: &[ReportDecl]) -> Vec<DeclProblem> {
    let mut out = Vec::new();
    for (key, value, dir) in [("template", &r.template, "templates/"), ("output", &r.output, "results/<experiment>/report/")] {
        if let Some(p) = relative_file_problem(value) {
            out.push(DeclProblem { key, message: format!("report `{key}` must be a relative path of a file inside {dir}: `{value}` {p}") });
        }
    }
    if r.output == PREAMBLE {
        out.push(DeclProblem { key: "output", message: format!("report `output` = `{PREAMBLE}` would be overwritten by the preamble every report directory gets; choose another name") });
    }
    if let Some(i) = earlier.iter().position(|e| e.output == r.output) {
        out.push(DeclProblem { key: "output", message: format!("report `output` = `{}` is already the output of report {} (two reports would overwrite each other)", r.output, i + 1) });
    }
    out
}

/// The template file `rel` of `templates`, refused unless it resolves (symlinks followed)
/// to a file inside `templates`.
fn template_file(templates: &Path, rel: &str) -> Result<PathBuf, ReportError> {
    let refuse = |message: String| ReportError::Template { template: rel.to_string(), message };
    if let Some(p) = relative_file_problem(rel) {
        return Err(refuse(format!("must be a relative path inside the templates directory {}: it {p}", templates.display())));
    }
    let joined = templates.join(rel);
    let root = templates.canonicalize().map_err(|e| ReportError::Io { path: templates.into(), source: e })?;
    let real = joined.canonicalize().map_err(|e| ReportError::Io { path: joined.clone(), source: e })?;
    if !real.starts_with(&root) {
        return Err(refuse(format!("{} resolves to {}, outside the templates directory {}", joined.display(), real.display(), root.display())));
    }
    Ok(real)
}

/// Checks, before any cell runs, that every report's template is a file inside `templates`
/// (a misspelt template otherwise surfaces only after the whole run); the message names the
/// report and suggests the closest template beside the one named.
pub fn check_templates(decls: &[ReportDecl], templates: &Path) -> Result<(), String> {
    for d in decls {
        if let Err(e) = template_file(templates, &d.template) {
            let wanted = templates.join(&d.template);
            let dir = wanted.parent().unwrap_or(templates);
            let siblings: Vec<String> =
                std::fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok()).filter(|e| e.path().is_file()).filter_map(|e| e.file_name().into_string().ok()).collect()).unwrap_or_default();
            let name = wanted.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let hint =
                crate::manifest::suggest(&name, siblings.iter().map(String::as_str)).map(|s| format!("; did you mean `{}`?", Path::new(&d.template).with_file_name(s).display())).unwrap_or_default();
            return Err(format!("[[report]] template `{}`: {e}{hint}", d.template));
        }
    }
    Ok(())
}

/// Renders one report from stored records; returns the output path. Nothing is written
/// before the text is rendered, and nothing through a symbolic link of the results tree.
pub fn render(plan: &Plan, store: &Store, records: &[Value], decl: &ReportDecl, templates: &Path) -> Result<PathBuf, ReportError> {
    let tpath = template_file(templates, &decl.template)?;
    if let Some(p) = relative_file_problem(&decl.output) {
        return Err(ReportError::Io { path: decl.output.clone().into(), source: std::io::Error::other(format!("report output {p}")) });
    }
    let text = std::fs::read_to_string(&tpath).map_err(|e| ReportError::Io { path: tpath.clone(), source: e })?;
    let out = store.report_dir().join(&decl.output);
    let ctx = context(plan, store, records, &out);
    let body = render_text(&decl.template, &text, &ctx).map_err(|message| ReportError::Template { template: tpath.display().to_string(), message })?;
    let dir = out.parent().unwrap_or(Path::new("."));
    let linked = |p: &Path| crate::fsguard::refuse_symlinks(&store.root, p).map_err(|e| ReportError::Io { path: p.into(), source: e });
    linked(&out)?;
    std::fs::create_dir_all(dir).map_err(|e| ReportError::Io { path: dir.into(), source: e })?;
    let pre = templates.join(PREAMBLE);
    if pre.is_file() {
        let pre = template_file(templates, PREAMBLE)?;
        linked(&dir.join(PREAMBLE))?;
        std::fs::copy(&pre, dir.join(PREAMBLE)).map_err(|e| ReportError::Io { path: pre.clone(), source: e })?;
    }
    crate::store::atomic_write(&out, body.as_bytes()).map_err(|e| ReportError::Io { path: out.clone(), source: std::io::Error::other(e.to_string()) })?;
    Ok(out)
}

/// Whether `pdflatex` is on PATH.
pub fn have_pdflatex() -> bool {
    std::process::Command::new("pdflatex").arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Compiles a `.tex` file twice with pdflatex (`-halt-on-error`) in its directory.
pub fn pdflatex(tex: &Path) -> Result<PathBuf, ReportError> {
    let dir = tex.parent().unwrap_or(Path::new("."));
    let name = tex.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for _ in 0..2 {
        let out = std::process::Command::new("pdflatex")
            .args(["-interaction=nonstopmode", "-halt-on-error", &name])
            .current_dir(dir)
            .output()
            .map_err(|e| ReportError::Io { path: tex.into(), source: e })?;
        if !out.status.success() {
            let log = String::from_utf8_lossy(&out.stdout);
            let tail: Vec<&str> = log.lines().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(ReportError::Latex { path: tex.into(), message: tail.join("\n") });
        }
    }
    Ok(tex.with_extension("pdf"))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn escapes_latex() {
        assert_eq!(latex_escape("P_mix #2 & 50%"), "P\\_mix \\#2 \\& 50\\%");
    }
    #[test]
    fn number_filters_need_no_safe_in_tex_templates() {
        let mut t = engine();
        t.add_raw_template("r.tex", "{{ x | sci(digits=2) }} {{ x | sci(digits=2) | safe }} {{ p | pct }} {{ n | siunitx }} {{ s }}").unwrap();
        let mut c = tera::Context::new();
        c.insert("x", &0.27);
        c.insert("p", &0.5);
        c.insert("n", &1000);
        c.insert("s", "a_b & 5%");
        let out = t.render("r.tex", &c).unwrap();
        // the filters' LaTeX is kept; plain text is still escaped
        assert_eq!(out, "$2.7\\times10^{-1}$ $2.7\\times10^{-1}$ \\num{50.00}\\% \\num{1000} a\\_b \\& 5\\%");
    }
}
