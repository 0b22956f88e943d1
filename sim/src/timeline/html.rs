//! The timeline page: one self-contained HTML file (inline CSS and SVG, no script, nothing
//! fetched) drawing the lanes of `lanes::Model` over simulated time. Every mark has a hover
//! `<title>`. Marks of one row and class are drawn together per time bucket of
//! [`BUCKET_PX`] pixels (their count in the title, the shade by count), so thousands of
//! operations stay readable; the violation's records are drawn one by one on top, in red.

use std::fmt::Write as _;

use super::involved::Involved;
use super::lanes::{LaneKey, Model};

/// The label column.
const LABEL_W: f64 = 240.0;
/// The time axis' width.
const PLOT_W: f64 = 1500.0;
const ROW_H: f64 = 12.0;
const LANE_GAP: f64 = 6.0;
const AXIS_H: f64 = 30.0;
/// Marks closer than this many pixels are drawn as one.
const BUCKET_PX: f64 = 4.0;
/// Above this many marks in one bucket a title lists the first and last only.
const TITLE_MARKS_MAX: usize = 3;

/// What the page says about the run besides its lanes.
pub(crate) struct Page<'a> {
    pub title: String,
    /// One line each: seed, verdict, counts, the command that replays it.
    pub facts: Vec<String>,
    /// The first violation, what it names in the history, the times it names, and the others.
    pub violation: Option<&'a str>,
    pub involved: &'a [Involved],
    pub named_times_ms: Vec<u64>,
    pub named_nodes: Vec<u64>,
    pub other_violations: &'a [String],
    pub config: &'a str,
}

/// `&`, `<`, `>`, `"` and `'` escaped, for text and attribute values alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 6px}
.facts{margin:0 0 10px;padding:0;list-style:none;color:#444}
.violation{border:2px solid #d00;background:#fff4f4;padding:8px 12px;margin:10px 0;max-width:1400px}
.violation h2{font-size:15px;margin:0 0 4px;color:#b00}
.violation .text{font-family:monospace;white-space:pre-wrap}
.violation ol{margin:4px 0 0;font-family:monospace;font-size:12px}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
.scroll{overflow-x:auto;border:1px solid #ddd}
svg text{font-family:system-ui,sans-serif}
.lane-label{font-size:11px;font-weight:600}
.row-label{font-size:9px;fill:#777}
.axis{font-size:10px;fill:#444}
.grid{stroke:#eee}
.lane-bg{fill:#fafafa}
.lane-bg.odd{fill:#f2f4f7}
.named-node{fill:#b00}
.down{fill:#444;opacity:.35}
.paused{fill:#e0a000;opacity:.35}
.cut{fill:#3b7dd8;opacity:.7}
.disk{fill:#8b5a2b;opacity:.7}
.net{fill:#5aa;opacity:.6}
.role-controller{fill:#7b3fb5}
.role-leader{fill:#2e8b57}
.acked{fill:#2a9d3a}
.unknown{fill:#f0a020}
.failed{fill:#666}
.poll{fill:#3a6fd0}
.fault{fill:#222}
.point{fill:#b0307f}
.point-delay{fill:#aaa}
.healed{stroke:#2a9d3a;stroke-dasharray:4 3}
.band{fill:#e00;opacity:.12;stroke:#e00;stroke-width:1}
.named-time{fill:#e00}
.involved{fill:#e00;stroke:#500;stroke-width:1}
";

/// (class, words) of the legend.
const LEGEND: [(&str, &str); 15] = [
    ("role-controller", "controller leader"),
    ("role-leader", "data partition leader"),
    ("down", "node down (killed)"),
    ("paused", "node paused"),
    ("cut", "cut off (partition, clog, isolation)"),
    ("disk", "disk error window"),
    ("net", "packet loss and latency"),
    ("fault", "instant fault / client event"),
    ("point", "crash or acting fault point"),
    ("point-delay", "delay fault point"),
    ("acked", "acked"),
    ("unknown", "outcome unknown"),
    ("failed", "failed"),
    ("poll", "polls / reads"),
    ("involved", "named by the first violation"),
];

/// The whole page.
pub(crate) fn page(model: &Model, page: &Page) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n<ul class=\"facts\">",
        escape(&page.title),
        escape(&page.title)
    );
    for fact in &page.facts {
        let _ = write!(out, "<li>{}</li>", escape(fact));
    }
    out.push_str("</ul>\n");
    if let Some(violation) = page.violation {
        violation_box(&mut out, violation, page);
    }
    out.push_str("<p class=\"legend\">");
    for (class, words) in LEGEND {
        let _ = write!(
            out,
            "<span><svg width=\"12\" height=\"10\"><rect class=\"{class}\" width=\"12\" \
             height=\"10\"/></svg> {}</span>",
            escape(words)
        );
    }
    out.push_str("</p>\n<div class=\"scroll\">\n");
    svg(&mut out, model, page);
    out.push_str("</div>\n");
    let _ = writeln!(
        out,
        "<details><summary>configuration</summary><pre>{}</pre></details>\n</body></html>",
        escape(page.config)
    );
    out
}

fn violation_box(out: &mut String, violation: &str, page: &Page) {
    let _ = write!(
        out,
        "<div class=\"violation\" id=\"first-violation\"><h2>First violation</h2>\
         <div class=\"text\">{}</div>",
        escape(violation)
    );
    if page.involved.is_empty() {
        out.push_str("<p>It names no record or operation of the history");
        if !page.named_times_ms.is_empty() {
            out.push_str(" (its times are marked in red on the axis)");
        }
        out.push_str(".</p>");
    } else {
        out.push_str("<p>Records and operations it names:</p><ol>");
        for i in page.involved {
            let _ = write!(
                out,
                "<li>{:.3} s · {} · {}</li>",
                i.at_ms as f64 / 1000.0,
                escape(&super::lanes::lane_label(&i.lane)),
                escape(&i.text)
            );
        }
        out.push_str("</ol>");
    }
    if !page.other_violations.is_empty() {
        let _ = write!(
            out,
            "<details><summary>{} more violation line(s)</summary><ol>",
            page.other_violations.len()
        );
        for other in page.other_violations {
            let _ = write!(out, "<li>{}</li>", escape(other));
        }
        out.push_str("</ol></details>");
    }
    out.push_str("</div>\n");
}

/// One simulated-time axis: ms → x.
struct Scale {
    end_ms: u64,
}

impl Scale {
    fn x(&self, at_ms: u64) -> f64 {
        LABEL_W + PLOT_W * (at_ms.min(self.end_ms) as f64) / (self.end_ms as f64)
    }

    fn bucket(&self, at_ms: u64) -> u64 {
        ((self.x(at_ms) - LABEL_W) / BUCKET_PX) as u64
    }

    /// Seconds between ticks: about 15 ticks over the run.
    fn tick_ms(&self) -> u64 {
        let wanted = self.end_ms / 15;
        ([500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 60_000].into_iter())
            .find(|step| *step >= wanted)
            .unwrap_or(120_000)
    }
}

fn svg(out: &mut String, model: &Model, page: &Page) {
    let scale = Scale {
        end_ms: model.end_ms,
    };
    let lanes_h: f64 = (model.lanes.values())
        .map(|lane| lane.rows.len().max(1) as f64 * ROW_H + LANE_GAP)
        .sum();
    let height = AXIS_H * 2.0 + lanes_h;
    let width = LABEL_W + PLOT_W + 20.0;
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\">"
    );
    axis(out, &scale, AXIS_H - 4.0, height);
    let mut y = AXIS_H;
    let mut lane_centres: Vec<(&LaneKey, f64)> = Vec::new();
    for (i, (key, lane)) in model.lanes.iter().enumerate() {
        let lane_h = lane.rows.len().max(1) as f64 * ROW_H;
        let odd = if i % 2 == 1 { " odd" } else { "" };
        let named = matches!(key, LaneKey::Node(id) if page.named_nodes.contains(id));
        let _ = writeln!(
            out,
            "<g class=\"lane\" data-lane=\"{}\">\
             <rect class=\"lane-bg{odd}\" x=\"0\" y=\"{y}\" width=\"{width}\" height=\"{lane_h}\"/>\
             <text class=\"lane-label{}\" x=\"4\" y=\"{}\">{}</text>",
            escape(&super::lanes::lane_label(key)),
            if named { " named-node" } else { "" },
            y + 10.0,
            escape(&lane.label)
        );
        for shade in &lane.shades {
            span_rect(out, &scale, y, lane_h, shade);
        }
        for (r, row) in lane.rows.iter().enumerate() {
            let row_y = y + r as f64 * ROW_H;
            let _ = write!(
                out,
                "<text class=\"row-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                LABEL_W - 4.0,
                row_y + ROW_H - 3.0,
                escape(&row.label)
            );
            for span in &row.spans {
                span_rect(out, &scale, row_y + 1.0, ROW_H - 2.0, span);
            }
            buckets(out, &scale, row_y, &row.marks);
        }
        out.push_str("</g>\n");
        lane_centres.push((key, y + lane_h / 2.0));
        y += lane_h + LANE_GAP;
    }
    healed_line(out, model, &scale, height);
    violation_marks(out, model, &scale, page, height, &lane_centres);
    axis(out, &scale, height - 8.0, height);
    out.push_str("</svg>\n");
}

fn axis(out: &mut String, scale: &Scale, y: f64, height: f64) {
    let step = scale.tick_ms();
    let mut at = 0;
    while at <= scale.end_ms {
        let x = scale.x(at);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\"/>\
             <text class=\"axis\" x=\"{x:.1}\" y=\"{y}\" text-anchor=\"middle\">{} s</text>",
            AXIS_H,
            height - AXIS_H,
            format_secs(at)
        );
        at += step;
    }
}

fn format_secs(ms: u64) -> String {
    match ms % 1000 {
        0 => (ms / 1000).to_string(),
        _ => format!("{:.1}", ms as f64 / 1000.0),
    }
}

fn span_rect(out: &mut String, scale: &Scale, y: f64, h: f64, span: &super::lanes::Span) {
    let x = scale.x(span.from_ms);
    let w = (scale.x(span.to_ms) - x).max(1.0);
    let _ = writeln!(
        out,
        "<rect class=\"{}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\">\
         <title>{}</title></rect>",
        span.class,
        escape(&span.title)
    );
}

/// A row's marks, one rectangle per (time bucket, class), shaded by how many it holds.
fn buckets(out: &mut String, scale: &Scale, row_y: f64, marks: &[super::lanes::Mark]) {
    use std::collections::BTreeMap;
    let mut grouped: BTreeMap<(u64, &str), Vec<&super::lanes::Mark>> = BTreeMap::new();
    for mark in marks {
        (grouped
            .entry((scale.bucket(mark.at_ms), mark.class))
            .or_default())
        .push(mark);
    }
    let count = |ms: &[&super::lanes::Mark]| ms.iter().map(|m| m.count.max(1)).sum::<u64>();
    let most = grouped
        .values()
        .map(|ms| count(ms))
        .max()
        .unwrap_or(1)
        .max(1);
    for ((bucket, class), ms) in &grouped {
        let n = count(ms);
        // Log-shaded: a lone unknown outcome stays visible beside a bucket of hundreds.
        let opacity = 0.35 + 0.65 * ((1 + n) as f64).ln() / ((1 + most) as f64).ln().max(1e-9);
        let x = LABEL_W + *bucket as f64 * BUCKET_PX;
        let mut title = match ms.len() {
            1 => ms[0].title.clone(),
            len => format!(
                "{len} × {class} ({n} in all), {:.2}–{:.2} s",
                ms[0].at_ms as f64 / 1000.0,
                ms[len - 1].at_ms as f64 / 1000.0
            ),
        };
        if ms.len() > 1 {
            let shown: Vec<&str> = match ms.len() <= TITLE_MARKS_MAX {
                true => ms.iter().map(|m| m.title.as_str()).collect(),
                false => vec![ms[0].title.as_str(), "…", ms[ms.len() - 1].title.as_str()],
            };
            title.push_str(":\n");
            title.push_str(&shown.join("\n"));
        }
        let _ = writeln!(
            out,
            "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
             opacity=\"{opacity:.2}\"><title>{}</title></rect>",
            row_y + 2.0,
            BUCKET_PX - 0.5,
            ROW_H - 4.0,
            escape(&title)
        );
    }
}

fn healed_line(out: &mut String, model: &Model, scale: &Scale, height: f64) {
    if let Some(healed) = model.healed_ms {
        let x = scale.x(healed);
        let _ = writeln!(
            out,
            "<line class=\"healed\" x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\">\
             <title>healed at {:.3} s: no fault after this</title></line>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{}\">healed</text>",
            AXIS_H - 12.0,
            height - AXIS_H,
            healed as f64 / 1000.0,
            x + 3.0,
            AXIS_H - 16.0
        );
    }
}

/// The red band over the times the first violation is about, a red mark per record it names
/// (on its lane), and a red tick on the axis per time it names.
fn violation_marks(
    out: &mut String,
    model: &Model,
    scale: &Scale,
    page: &Page,
    height: f64,
    lane_centres: &[(&LaneKey, f64)],
) {
    let Some(violation) = page.violation else {
        return;
    };
    // The final read comes long after the operations it contradicts: it keeps its own red
    // mark, and the band covers it only when nothing else is named.
    let during_run = (page.involved.iter())
        .filter(|i| i.lane != LaneKey::FinalRead)
        .map(|i| i.at_ms);
    let mut times: Vec<u64> = during_run
        .chain(page.named_times_ms.iter().copied())
        .collect();
    if times.is_empty() {
        times = page.involved.iter().map(|i| i.at_ms).collect();
    }
    // Nothing named with a time: the checker found it in the whole history, at the end.
    let (from, to) = match (times.iter().min(), times.iter().max()) {
        (Some(from), Some(to)) => (*from, *to),
        _ => (model.end_ms, model.end_ms),
    };
    let x = scale.x(from) - 3.0;
    let w = scale.x(to) - scale.x(from) + 6.0;
    let _ = writeln!(
        out,
        "<rect class=\"band\" x=\"{x:.1}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\">\
         <title>first violation ({:.3}–{:.3} s): {}</title></rect>",
        AXIS_H,
        height - 2.0 * AXIS_H,
        from as f64 / 1000.0,
        to as f64 / 1000.0,
        escape(violation)
    );
    for at in &page.named_times_ms {
        let x = scale.x(*at);
        let _ = writeln!(
            out,
            "<path class=\"named-time\" d=\"M{:.1} {} l5 -8 h-10 z\"><title>t={at}ms, named by \
             the first violation</title></path>",
            x, AXIS_H
        );
    }
    for involved in page.involved {
        let Some((_, y)) = lane_centres.iter().find(|(key, _)| **key == involved.lane) else {
            continue;
        };
        let _ = writeln!(
            out,
            "<circle class=\"involved\" cx=\"{:.1}\" cy=\"{y:.1}\" r=\"4\"><title>{:.3} s: {}\
             </title></circle>",
            scale.x(involved.at_ms),
            involved.at_ms as f64 / 1000.0,
            escape(&involved.text)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;"
        );
    }

    #[test]
    fn ticks_fit_the_run() {
        assert_eq!(Scale { end_ms: 60_000 }.tick_ms(), 5_000);
        assert_eq!(Scale { end_ms: 6_000 }.tick_ms(), 500);
        assert_eq!(format_secs(2_500), "2.5");
        assert_eq!(format_secs(3_000), "3");
    }
}
