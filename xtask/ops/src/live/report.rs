//! `cargo xtask load`'s report: the summary for the terminal, Markdown with a histogram, or one
//! HTML page with a plot of latency by percentile.

use std::path::Path;

use anyhow::{Context, Result};

use super::load::LoadReport;

impl LoadReport {
    /// The summary for the terminal.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "load: {} (run {}): {} requests at {}/s for {:.0} s; {} succeeded; {:.1} answers/s; generator lag at most {:.1} ms",
            self.api,
            self.run_id,
            self.sent,
            self.rate,
            self.duration_s,
            self.succeeded,
            self.throughput,
            self.max_send_lag_ms
        )];
        out.push(format!(
            "  {:<26} {:>8} {:>9} {:>9} {:>9} {:>9}  statuses",
            "route", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms"
        ));
        for r in self.routes.iter().chain([&self.all]) {
            out.push(format!(
                "  {:<26} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}  {}",
                r.route,
                r.requests,
                r.p50_ms,
                r.p90_ms,
                r.p99_ms,
                r.max_ms,
                r.statuses
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push(format!(
            "  cleaned up {} SKU(s) and {} of {} order(s)",
            self.cleanup.skus_deleted, self.cleanup.orders_deleted, self.orders_placed
        ));
        out.extend(self.cleanup.left.iter().map(|l| format!("  left: {l}")));
        out
    }

    /// The report as Markdown: the summary, the table, and each route's histogram.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# Load test of {}\n\nRun `{}`: {} requests at {} per second for {:.0} s (open loop; latency from each request's due time). \
             {} succeeded; {:.1} answers per second.\n\n| route | requests | p50 ms | p90 ms | p99 ms | max ms | statuses |\n|---|---:|---:|---:|---:|---:|---|\n",
            self.api, self.run_id, self.sent, self.rate, self.duration_s, self.succeeded, self.throughput
        );
        for r in self.routes.iter().chain([&self.all]) {
            s += &format!(
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |\n",
                r.route.replace('|', "\\|"),
                r.requests,
                r.p50_ms,
                r.p90_ms,
                r.p99_ms,
                r.max_ms,
                r.statuses
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        s += "\n## Latency histogram (all routes)\n\n```\n";
        let most = self
            .all
            .histogram
            .iter()
            .map(|(_, c)| *c)
            .max()
            .unwrap_or(1)
            .max(1);
        for (bound, count) in &self.all.histogram {
            let bar = "#".repeat(usize::try_from(count * 50 / most).unwrap_or(50));
            s += &format!("≤ {bound:>8.0} ms {count:>7} {bar}\n");
        }
        s += "```\n";
        s
    }

    /// The report as one HTML page: the Markdown's figures and an SVG plot of latency by
    /// percentile per route (log scales, as HdrHistogram plots them).
    pub fn html(&self) -> String {
        const W: f64 = 720.0;
        const H: f64 = 360.0;
        let colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#444444"];
        let max_ms = self.all.max_ms.max(1.0);
        let y = |v: f64| H - 20.0 - (v.max(0.1).log10() + 1.0) / (max_ms.log10() + 1.5) * (H - 40.0);
        // x: the "nines" of the percentile, 0 at p0 up to 4 (p99.99).
        let x = |p: f64| 50.0 + (-(1.0 - p / 100.0).max(1e-4).log10()) / 4.0 * (W - 70.0);
        let mut svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">"#
        );
        for (label, p) in [
            ("p0", 0.0),
            ("p90", 90.0),
            ("p99", 99.0),
            ("p99.9", 99.9),
            ("p99.99", 99.99),
        ] {
            svg += &format!(
                r##"<line x1="{0:.1}" y1="20" x2="{0:.1}" y2="{1:.1}" stroke="#ddd"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{label}</text>"##,
                x(p),
                H - 20.0,
                H - 5.0
            );
        }
        let mut tick = 0.1;
        while tick <= max_ms * 10.0 {
            svg += &format!(
                r##"<line x1="50" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#eee"/><text x="45" y="{0:.1}" text-anchor="end">{tick} ms</text>"##,
                y(tick),
                W - 20.0
            );
            tick *= 10.0;
        }
        for (i, r) in self.routes.iter().chain([&self.all]).enumerate() {
            let points: Vec<String> = r
                .curve
                .iter()
                .map(|(p, v)| format!("{:.1},{:.1}", x(*p), y(*v)))
                .collect();
            let colour = colours[i % colours.len()];
            svg += &format!(
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/><text x="60" y="{}" fill="{colour}">{}</text>"#,
                points.join(" "),
                30 + 14 * i,
                html_escape(r.route)
            );
        }
        svg += "</svg>";
        format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Load test {}</title>\
             <style>body{{font-family:sans-serif;max-width:800px;margin:2em auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}</style></head><body>\n\
             <pre>{}</pre>\n<h2>Latency by percentile</h2>\n{svg}\n</body></html>\n",
            html_escape(&self.run_id),
            html_escape(&self.markdown())
        )
    }

    /// Writes the report: HTML when the name ends in `.html`, else Markdown.
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text = if path.extension().is_some_and(|e| e == "html") {
            self.html()
        } else {
            self.markdown()
        };
        std::fs::write(path, text).with_context(|| format!("cannot write the report to {}", path.display()))
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
