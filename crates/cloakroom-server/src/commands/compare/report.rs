//! The comparison's results: the explainer's verdict table with measured numbers, as text, as
//! JSON, and as an SVG chart.

use std::fmt::Write as _;

use serde::Serialize;

use super::measure::{Propagation, Throughput, Verification};

/// Everything measured for one mode.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ModeResult {
    /// `session`, `jwt` or `hybrid`.
    pub(crate) mode: &'static str,
    /// In-process cost of checking a request.
    pub(crate) verification: Verification,
    /// `/auth/me` over HTTP.
    pub(crate) throughput: Throughput,
    /// Session-store calls per authenticated request.
    pub(crate) store_round_trips: f64,
    /// Logout on node A until node B refuses.
    pub(crate) logout_propagation: Propagation,
    /// The header a client sends on every request (`Cookie` or `Authorization`), in bytes.
    pub(crate) credential_bytes: usize,
    /// The refresh token (hybrid), sent only to `/auth/refresh`, in bytes.
    pub(crate) refresh_token_bytes: Option<usize>,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// CPUs the operating system reports.
    pub(crate) cores: usize,
    /// Where sessions were kept (`session_store`).
    pub(crate) session_store: String,
    /// The database the nodes shared: a temporary one, or the configured URL.
    pub(crate) database: String,
    /// The signing algorithm of the token modes.
    pub(crate) algorithm: String,
    /// How long each throughput run lasted, seconds.
    pub(crate) duration_s: f64,
    /// One entry per mode measured.
    pub(crate) modes: Vec<ModeResult>,
}

fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1} s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn us(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0} µs")
    } else {
        format!("{v:.2} µs")
    }
}

/// One cell of the logout row.
pub(crate) fn logout_cell(p: &Propagation) -> String {
    if let Some(why) = &p.not_applicable {
        return format!("n/a ({why})");
    }
    let timed_out = if p.timed_out > 0 {
        format!("still accepted after {}", ms(p.wait_ms))
    } else {
        String::new()
    };
    match (p.p50_ms, p.p99_ms) {
        (Some(p50), Some(p99)) if timed_out.is_empty() => {
            format!("{} / {} (n={})", ms(p50), ms(p99), p.samples_ms.len())
        }
        (Some(p50), Some(p99)) => format!("{} / {}; {timed_out}", ms(p50), ms(p99)),
        _ => timed_out,
    }
}

impl Report {
    /// The verdict table, as a Markdown table (it reads as plain text too).
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Measured on this machine: {} cores; sessions: {}; database: {}; tokens: {}; \
             {:.0} s of load per mode.\n",
            self.cores, self.session_store, self.database, self.algorithm, self.duration_s
        );
        let mut header = "| criterion (the explainer's winner) |".to_owned();
        let mut rule = "|---|".to_owned();
        for m in &self.modes {
            let _ = write!(header, " {} |", m.mode);
            rule.push_str("---|");
        }
        let _ = writeln!(out, "{header}\n{rule}");
        let row = |out: &mut String, name: &str, cell: &dyn Fn(&ModeResult) -> String| {
            let mut line = format!("| {name} |");
            for m in &self.modes {
                let _ = write!(line, " {} |", cell(m));
            }
            let _ = writeln!(out, "{line}");
        };
        row(
            &mut out,
            "Performance (JWT): checking a request in-process, repeat (first sight)",
            &|m| match m.verification.first_sight_us {
                Some(first) => format!("{} ({})", us(m.verification.repeat_us), us(first)),
                None => us(m.verification.repeat_us),
            },
        );
        row(
            &mut out,
            "Performance (JWT): `GET /auth/me` over HTTP, req/s (p50 / p99)",
            &|m| {
                format!(
                    "{:.0} ({} / {})",
                    m.throughput.per_second,
                    ms(m.throughput.p50_ms),
                    ms(m.throughput.p99_ms)
                )
            },
        );
        row(
            &mut out,
            "Scalability (JWT): store round trips per request",
            &|m| format!("{:.2}", m.store_round_trips),
        );
        row(
            &mut out,
            "Ease of logout (Session): logout on node A → 401 on node B, p50 / p99",
            &|m| logout_cell(&m.logout_propagation),
        );
        row(
            &mut out,
            "Security: credential on the wire, bytes per request",
            &|m| match m.refresh_token_bytes {
                Some(r) => format!("{} (+ {r} to /auth/refresh)", m.credential_bytes),
                None => m.credential_bytes.to_string(),
            },
        );
        out
    }

    /// Bar charts of the numbers, one panel per measurement.
    pub(crate) fn svg(&self) -> String {
        const WIDTH: f64 = 760.0;
        const PANEL: f64 = 40.0 + 26.0 * 3.0;
        const LABEL: f64 = 90.0;
        const BAR_MAX: f64 = 460.0;
        type Value = fn(&ModeResult) -> Option<(f64, String)>;
        let panels: [(&str, Value); 4] = [
            (
                "GET /auth/me over HTTP, requests per second (more is better)",
                |m| {
                    Some((
                        m.throughput.per_second,
                        format!("{:.0}/s", m.throughput.per_second),
                    ))
                },
            ),
            (
                "Checking a repeated request in-process, µs (less is better)",
                |m| Some((m.verification.repeat_us, us(m.verification.repeat_us))),
            ),
            (
                "Logout on node A → 401 on node B, median ms (less is better)",
                |m| {
                    let p = &m.logout_propagation;
                    match p.p50_ms {
                        _ if p.timed_out > 0 => {
                            Some((p.wait_ms, format!("&gt; {}", ms(p.wait_ms))))
                        }
                        Some(v) => Some((v, ms(v))),
                        None => None,
                    }
                },
            ),
            (
                "Credential sent with every request, bytes (less is better)",
                |m| {
                    Some((
                        m.credential_bytes as f64,
                        format!("{} B", m.credential_bytes),
                    ))
                },
            ),
        ];
        let height = PANEL * panels.len() as f64 + 20.0;
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
             viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"13\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        let colours = ["#4e79a7", "#f28e2b", "#59a14f"];
        for (i, (title, value)) in panels.iter().enumerate() {
            let top = 20.0 + PANEL * i as f64;
            let _ = writeln!(
                svg,
                "<text x=\"10\" y=\"{top}\" font-weight=\"bold\">{title}</text>"
            );
            let values: Vec<Option<(f64, String)>> = self.modes.iter().map(value).collect();
            let max = values
                .iter()
                .flatten()
                .map(|(v, _)| *v)
                .fold(0.0_f64, f64::max)
                .max(f64::MIN_POSITIVE);
            for (j, (m, v)) in self.modes.iter().zip(&values).enumerate() {
                let y = top + 12.0 + 26.0 * j as f64;
                let _ = writeln!(svg, "<text x=\"10\" y=\"{}\">{}</text>", y + 14.0, m.mode);
                let (len, text) = match v {
                    Some((v, text)) => ((v / max * BAR_MAX).max(1.0), text.clone()),
                    None => (0.0, "n/a".to_owned()),
                };
                let _ = writeln!(
                    svg,
                    "<rect x=\"{LABEL}\" y=\"{y}\" width=\"{len:.1}\" height=\"18\" fill=\"{}\"/>\
                     <text x=\"{:.1}\" y=\"{}\">{text}</text>",
                    colours[j % colours.len()],
                    LABEL + len + 6.0,
                    y + 14.0
                );
            }
        }
        svg.push_str("</svg>\n");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_cells_read_right() {
        let p = Propagation {
            not_applicable: None,
            samples_ms: vec![1.0, 2.0],
            timed_out: 1,
            wait_ms: 3000.0,
            p50_ms: Some(1.0),
            p99_ms: Some(2.0),
        };
        assert_eq!(
            logout_cell(&p),
            "1.00 ms / 2.00 ms; still accepted after 3.0 s"
        );
        let none = Propagation {
            samples_ms: Vec::new(),
            p50_ms: None,
            p99_ms: None,
            ..p
        };
        assert_eq!(logout_cell(&none), "still accepted after 3.0 s");
    }
}
