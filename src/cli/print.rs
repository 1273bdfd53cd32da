//! What people read: tables and summaries on the terminal (`--json` prints the same data).

use anyhow::Result;

use ticketlens::demo::DemoSummary;
use ticketlens::eval::EvalReport;
use ticketlens::knowledge::Basis;
use ticketlens::pipeline::Assessment;
use ticketlens::report::Report;
use ticketlens::store::{Deflection, DraftRow, FieldTally};
use ticketlens::triage::ClassRecord;

pub fn print_eval(r: &EvalReport) {
    for smaller in &r.learning_curve {
        print_eval(smaller);
        println!();
    }
    println!(
        "{} history, {} incoming tickets ({:.0} s, {})",
        r.history, r.incoming, r.seconds, r.model_version
    );
    println!(
        "{:>9} {:>6} {:>9} {:>9} {:>13} {:>11} {:>14} {:>17}",
        "field",
        "n",
        "accuracy",
        "macro-F1",
        "coverage@95%",
        "oracle@95%",
        "applied share",
        "applied precision"
    );
    for (name, field) in [("category", &r.category), ("urgency", &r.urgency)] {
        let Some(f) = field else { continue };
        let percent = |x: Option<f64>| x.map_or("-".into(), |x| format!("{:.1}%", 100.0 * x));
        let applied = format!(
            "{} (target {})",
            percent(f.applied_precision),
            percent(Some(f.target_precision))
        );
        println!(
            "{name:>9} {:>6} {:>9.3} {:>9.3} {:>13} {:>11} {:>14} {:>17}",
            f.n,
            f.accuracy,
            f.macro_f1,
            percent(Some(f.coverage_at_95)),
            percent(Some(f.oracle_coverage_at_95)),
            percent(Some(f.applied_share)),
            applied
        );
    }
    if let Some(live) = &r.live {
        for (name, field) in [("category", &live.category), ("urgency", &live.urgency)] {
            let Some(f) = field else { continue };
            println!(
                "{name}, live (resolved {} tickets later, retrained every {} labels, {} \
                 versions): accuracy {:.3}, macro-F1 {:.3}, applied {:.1}% at {}",
                live.label_delay,
                live.retrain_after,
                live.versions,
                f.accuracy,
                f.macro_f1,
                100.0 * f.applied_share,
                f.applied_precision
                    .map_or("-".into(), |p| format!("{:.1}%", 100.0 * p)),
            );
        }
    }
    for (name, field) in [("category", &r.category), ("urgency", &r.urgency)] {
        let Some(g) = field.as_ref().map(|f| &f.guarded) else {
            continue;
        };
        println!(
            "{name}: with the live guard (labels known {} tickets later, no retraining): \
             applied {:.1}% at {}, {} held back{}",
            g.label_delay,
            100.0 * g.applied_share,
            g.applied_precision
                .map_or("-".into(), |p| format!("{:.1}%", 100.0 * p)),
            g.held_back,
            if g.classes.is_empty() {
                String::new()
            } else {
                format!(" ({})", g.classes.join(", "))
            }
        );
    }
    for (name, field) in [("category", &r.category), ("urgency", &r.urgency)] {
        if let Some(features) = field.as_ref().and_then(|f| f.features) {
            let read = features.describe();
            println!("{name}: the model reads {read} (chosen on the history)");
        }
        if let (Some(asked), Some(later)) = field
            .as_ref()
            .map_or((None, None), |f| (f.history_target, f.later))
        {
            println!(
                "{name}: thresholds asked {:.1}% of held-out history; of the history's latest \
                 tickets, predicted by models of the history before them, they applied {} at {}",
                100.0 * asked,
                later.applied,
                if later.applied == 0 {
                    "-".into()
                } else {
                    format!("{:.1}%", 100.0 * later.precision())
                },
            );
        }
    }
    let figure = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.3}"));
    if let Some(p) = &r.problems {
        println!(
            "problems: {} candidates for {} recurring groups; recovered {}, purity {}, {} false",
            p.candidates,
            p.groups,
            figure(p.groups_recovered),
            figure(p.candidate_purity),
            p.false_candidates
        );
    }
    let Some(s) = &r.suggestions else { return };
    if s.n > 0 {
        println!(
            "articles: {} tickets with a known answer; recall@1 {}, @3 {}, @10 {}, MRR {}",
            s.n,
            figure(s.recall_at_1),
            figure(s.recall_at_3),
            figure(s.recall_at_10),
            figure(s.mrr)
        );
    }
    if s.duplicates_n > 0 {
        println!(
            "similar tickets: {} tickets with an earlier one of their group; found in the top 3: {}",
            s.duplicates_n,
            figure(s.duplicates_recall_at_3)
        );
        let f = &s.fusion;
        let basis = match f.basis {
            Basis::Learned { linked } => format!("learned from {linked} linked history tickets"),
            Basis::Default => "the default: too few linked history tickets to learn from".into(),
            Basis::Fixed => "set in the pipeline file".into(),
        };
        println!(
            "  weight of shared words beside the embedding: {:.1} ({basis})",
            f.weight
        );
    }
}

pub fn print_demo(s: &DemoSummary) {
    println!("ticketlens demo — {}", s.database.display());
    println!(
        "  loaded {} history tickets and {} articles; streamed {} incoming tickets",
        s.history, s.articles, s.incoming
    );
    println!(
        "  triaged {} incoming tickets ({} skipped); a field is applied where the history shows \
         its class {:.0}% right:",
        s.triaged,
        s.skipped,
        s.target_precision * 100.0
    );
    for (name, tally) in [
        ("category", &s.fields.category),
        ("urgency", &s.fields.urgency),
    ] {
        println!("    {name:<9}{}", field_tally(tally));
    }
    println!("  {} suggestions written", s.suggestions);
    println!("  {} candidate problems:", s.problems.len());
    for p in &s.problems {
        println!(
            "    #{:<3} {:>2} incidents from {:>2} people  {}",
            p.id, p.size, p.requesters, p.title
        );
        println!("         keywords: {}", p.keywords.join(", "));
    }
    println!(
        "  {} draft articles for recurring fixes without one:",
        s.drafts.len()
    );
    for d in &s.drafts {
        println!(
            "    #{:<3} from {:>2} tickets  {}",
            d.id, d.sources, d.title
        );
    }
    println!("  model: {}", s.model_version);
}

/// `report`: per field and decision, how many tickets and how many still agree with what
/// agents set since; each applied class's live record; then the before-filing deflection.
pub fn print_report(report: &Report, classes: &[ClassRecord], d: &Deflection) {
    if report.is_empty() {
        println!("Nothing triaged yet (run the pipeline first).");
    }
    println!(
        "{:>9} {:>13} {:>8} {:>8} {:>10}",
        "field", "decision", "tickets", "set now", "agreement"
    );
    for (field, statuses) in report {
        for (status, a) in statuses {
            let rate = a
                .rate()
                .map_or("-".into(), |r| format!("{:.1}%", r * 100.0));
            println!(
                "{field:>9} {status:>13} {:>8} {:>8} {rate:>10}",
                a.tickets, a.set
            );
        }
    }
    if !classes.is_empty() {
        println!(
            "classes the latest model applies, on their latest confident tickets since resolved:"
        );
        println!(
            "{:>9} {:>20} {:>8} {:>6} {:>10}",
            "field", "class", "resolved", "right", "precision"
        );
        for c in classes {
            println!(
                "{:>9} {:>20} {:>8} {:>6} {:>9.1}%{}",
                c.field.as_str(),
                c.label,
                c.record.applied,
                c.record.right,
                c.precision * 100.0,
                match (c.held_back, c.applied_from) {
                    (false, _) => String::new(),
                    (true, Some(from)) => format!(
                        "  surely below the target: applied only from {:.1}% until its record \
                         or retraining lifts it",
                        100.0 * from
                    ),
                    (true, None) => "  held back: surely below the target at any confidence, \
                                     suggested only until its record or retraining lifts it"
                        .to_owned(),
                }
            );
        }
    }
    println!(
        "before filing: {} asked, {} answered ({} with a known issue), {} rated, {} helped{}",
        d.asked,
        d.answered,
        d.known_issue,
        d.rated,
        d.helped,
        d.rate()
            .map_or(String::new(), |r| format!(" ({:.0}% of rated)", r * 100.0))
    );
}

/// `articles drafts`: each draft with the tickets it was written from, and its text.
pub fn print_drafts(drafts: &[DraftRow]) {
    if drafts.is_empty() {
        println!("No draft articles (run the pipeline first, or every fix has one).");
    }
    for d in drafts {
        let sources: Vec<String> = d.sources.iter().map(|s| format!("#{s}")).collect();
        println!(
            "draft #{}  {}  (from {})",
            d.id,
            d.title,
            sources.join(", ")
        );
        for line in d.body.lines() {
            println!("    {line}");
        }
    }
}

/// One field's outcome over a set of tickets, led by what was done.
pub fn field_tally(t: &FieldTally) -> String {
    format!(
        "{:>3} applied · {:>3} kept as a person set them · {:>3} suggested for review",
        t.applied, t.kept, t.review
    )
}

/// Daily counts as a line of block characters, so the shape shows in a terminal.
pub fn sparkline(counts: &[u32]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let top = counts.iter().copied().max().unwrap_or(0).max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                '·'
            } else {
                BARS[((c * 7) / top) as usize]
            }
        })
        .collect()
}

pub fn print_public(answer: &ticketlens::pipeline::PublicAnswer) {
    for k in &answer.known_issues {
        println!(
            "Known issue: {} (reported {} times since {}; the team is on it)",
            k.title,
            k.reported,
            // To the minute: "2026-11-26 01:00" (UTC), as people read it.
            k.since.get(..16).unwrap_or(&k.since).replace('T', " ")
        );
        if let Some(workaround) = &k.workaround {
            println!("  meanwhile: {workaround}");
        }
    }
    if answer.articles.is_empty() {
        println!("No published article matches; please file a ticket.");
    }
    for a in &answer.articles {
        println!("  #{:<5} {:.2}  {}", a.id, a.score, a.title);
        if let Some(passage) = &a.passage {
            println!("          {passage}");
        }
    }
    println!(
        "(answer {0}: `ticketlens feedback {0} helped` or `not-helped`)",
        answer.answer
    );
}

pub fn print_assessment(a: &Assessment, json: bool, with_triage: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(a)?);
        return Ok(());
    }
    if with_triage {
        for (field, p) in [
            ("category", &a.verdict.category),
            ("urgency", &a.verdict.urgency),
        ] {
            match p {
                Some(p) => {
                    println!("{field:>9}: {}", p.reason);
                    if !p.terms.is_empty() {
                        let terms: Vec<&str> = p.terms.iter().map(|t| t.term.as_str()).collect();
                        println!("           because of: {}", terms.join(", "));
                    }
                }
                None => println!("{field:>9}: no prediction (no labelled history)"),
            }
        }
        println!("evidence:");
        for e in a.verdict.evidence.iter().take(5) {
            println!(
                "  #{:<5} {:.2}  [{} / {}]  {}",
                e.ticket_id,
                e.similarity,
                e.category.as_deref().unwrap_or("-"),
                e.urgency.as_deref().unwrap_or("-"),
                e.subject
            );
        }
    }
    println!("articles:");
    for s in &a.suggestions.articles {
        println!("  #{:<5} {:.2}  {}", s.id, s.score, s.title);
    }
    if !a.suggestions.tickets.is_empty() {
        println!("similar resolved tickets:");
        for s in &a.suggestions.tickets {
            println!("  #{:<5} {:.2}  {}", s.id, s.score, s.title);
        }
    }
    Ok(())
}
