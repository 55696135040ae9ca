//! Renders the runbooks (`docs/runbooks/*.md`) to HTML at build time, so the
//! status function serves them without a Markdown renderer in its binary: the
//! generated `runbooks.rs` holds each page's name, title and HTML.

use std::fmt::Write as _;
use std::path::Path;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/runbooks");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut pages = Vec::new();
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let name = if stem == "README" {
            String::new()
        } else {
            stem
        };
        let markdown = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let title = markdown
            .lines()
            .find_map(|l| l.strip_prefix("# "))
            .unwrap_or("Runbook")
            .replace('`', "");
        pages.push((name, title, render(&markdown)));
    }
    pages.sort();
    let mut out =
        String::from("/// (name, title, HTML body) of every runbook; `\"\"` is the index.\n");
    out.push_str("pub const PAGES: &[(&str, &str, &str)] = &[\n");
    for (name, title, body) in &pages {
        let _ = writeln!(out, "    ({name:?}, {title:?}, {body:?}),");
    }
    out.push_str("];\n");
    let out_dir = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(Path::new(&out_dir).join("runbooks.rs"), out).expect("write runbooks.rs");
}

/// Markdown to HTML; a link to a sibling page (`x.md`) becomes `x`, the
/// path the status function serves it at; raw HTML in the source is shown
/// as text.
fn render(markdown: &str) -> String {
    let events = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|event| match event {
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let dest = match dest_url.strip_suffix(".md") {
                Some(page) if !page.contains('/') && !page.contains(':') => {
                    CowStr::from(if page == "README" {
                        "./".to_owned()
                    } else {
                        page.to_owned()
                    })
                }
                _ => dest_url,
            };
            Event::Start(Tag::Link {
                link_type,
                dest_url: dest,
                title,
                id,
            })
        }
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut body = String::new();
    html::push_html(&mut body, events);
    body
}
