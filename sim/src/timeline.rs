//! A run as one self-contained HTML page (`cargo sim --timeline PATH`, and beside every failing
//! seed's history): a lane per node with its roles and the faults on it, a lane per client with
//! its operations, the time in simulated seconds, and the checker's first violation marked in
//! red with the records and operations it names.
//!
//! * `lanes` — the lanes, read from the history;
//! * `involved` — what a violation's words name, found in the history;
//! * `html` — the drawing.

mod html;
mod involved;
mod lanes;

pub use html::escape;

use crate::history::Event;
use crate::run::RunResult;

/// The page of `run`, whose replay command is `command`; `None` for a run that left no history
/// (a panic).
pub fn render(run: &RunResult, command: &str) -> Option<String> {
    if run.events.is_empty() {
        return None;
    }
    let model = lanes::model(&run.config, &run.events);
    let violations: Vec<String> = (run.verdict.safety.iter())
        .chain(&run.verdict.liveness)
        .cloned()
        .collect();
    let first = violations.first().map(String::as_str);
    let named = first.map(involved::named).unwrap_or_default();
    let involved = involved::involved(&named, &run.events);
    let config = (run.events.iter())
        .find_map(|(_, e)| match e {
            Event::Config(text) => Some(text.as_str()),
            _ => None,
        })
        .unwrap_or("");
    let page = html::Page {
        title: format!("rill simulation, seed {}: {:?}", run.seed, run.kind),
        facts: vec![
            format!(
                "{} simulated seconds; {}",
                run.sim_ms as f64 / 1000.0,
                run.stats
            ),
            format!("replay: {command}"),
            "Hover any mark for what it is; marks closer than a few pixels are drawn as one \
             (their count in the hover text)."
                .to_string(),
        ],
        violation: first,
        involved: &involved,
        named_times_ms: named.times_ms.iter().copied().collect(),
        named_nodes: named.nodes.iter().copied().collect(),
        other_violations: violations.get(1..).unwrap_or_default(),
        config,
    };
    Some(html::page(&model, &page))
}
