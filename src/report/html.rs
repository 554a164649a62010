//! One self-contained HTML page for a run: the diagnosis text and every plot as inline SVG.

use super::plot::{Plot, PlotError};

/// The page: `title`, the report text (escaped, preformatted) and the plots inline.
pub fn page(title: &str, text: &str, plots: &[(&str, Plot)]) -> Result<String, PlotError> {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}figure{{display:inline-block;margin:.5em}}</style></head><body>\n<h1>{}</h1>\n<pre>{}</pre>\n",
        escape(title),
        escape(title),
        escape(text)
    );
    for (stem, plot) in plots {
        out.push_str(&format!("<figure id=\"{stem}\">{}</figure>\n", plot.svg()?));
    }
    out.push_str("</body></html>\n");
    Ok(out)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
