//! Every setting of every shipped capability explains itself: a description, a range for each
//! number, and `flowlab plugins PLUGIN CAPABILITY` prints each with a complete example section
//! that reads back as TOML (README: settings of a plugin).
use crate::common::*;
use serde_json::Value;

/// The descriptions of the shipped (non-internal) plugins, from `flowlab plugins --json`.
fn described() -> Vec<Value> {
    let o = run(&["plugins", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice::<Vec<Value>>(&o.stdout).unwrap()
}

#[test]
fn every_setting_has_a_description_and_every_number_a_range() {
    let mut missing = Vec::new();
    let plugins = described();
    assert!(plugins.len() >= 4, "the four plugins are built");
    for p in &plugins {
        for c in p["capabilities"].as_array().unwrap() {
            for m in flowlab::describe::undocumented(&c["settings_schema"]) {
                missing.push(format!("{} {}: {m}", p["name"].as_str().unwrap(), c["name"].as_str().unwrap()));
            }
        }
    }
    assert!(missing.is_empty(), "undocumented settings:\n{}", missing.join("\n"));
}

#[test]
fn plugin_help_lists_every_setting_with_an_example_section_that_parses() {
    for p in described() {
        let plugin = p["name"].as_str().unwrap();
        for c in p["capabilities"].as_array().unwrap() {
            let cap = c["name"].as_str().unwrap();
            let o = run(&["plugins", plugin, cap]);
            assert!(o.status.success(), "{plugin} {cap}: {}", stderr(&o));
            let text = String::from_utf8(o.stdout).unwrap();
            let (head, example) = text.split_once("\nexample section:\n").unwrap_or_else(|| panic!("{plugin} {cap}: no example section\n{text}"));
            let keys: Vec<&String> = c["settings_schema"]["properties"].as_object().map(|m| m.keys().collect()).unwrap_or_default();
            let example: String = example.lines().map(|l| l.strip_prefix("  ").unwrap_or(l)).map(|l| format!("{l}\n")).collect();
            let doc: toml::Table = toml::from_str(&example).unwrap_or_else(|e| panic!("{plugin} {cap}: example is not TOML: {e}\n{example}"));
            for k in keys {
                assert!(head.contains(&format!("\n  {k}  ")), "{plugin} {cap}: `{k}` not explained\n{head}");
                assert!(example.contains(&format!("{k} = ")), "{plugin} {cap}: `{k}` not in the example\n{example}");
            }
            assert!(!doc.is_empty());
        }
    }
}

#[test]
fn plugin_help_names_unknown_plugins_and_capabilities() {
    let o = run(&["plugins", "histfitt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no plugin `histfitt`; did you mean `histfit`?"), "{}", stderr(&o));
    let o = run(&["plugins", "histfit", "fitt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("has no capability `fitt`; did you mean `fit`?"), "{}", stderr(&o));
}

/// The README shows `flowlab plugins histfit fit` as it is: its first lines and its example
/// section are the command's own output.
#[test]
fn readme_shows_the_current_plugin_help() {
    let o = run(&["plugins", "histfit", "fit"]);
    let out = String::from_utf8(o.stdout).unwrap();
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let head: String = out.lines().take_while(|l| !l.trim_start().starts_with("e.g. families")).map(|l| format!("{l}\n")).collect();
    assert!(readme.contains(&head), "README's `flowlab plugins histfit fit` head is stale; it is now:\n{head}");
    let example = &out[out.find("example section:").unwrap()..];
    assert!(readme.contains(example.trim_end()), "README's example section is stale; it is now:\n{example}");
}
