//! `ticketlens import`: a help desk's export into the pipeline's native store, with a progress
//! bar and a report of what each row did.

use std::path::Path;

use anyhow::{bail, Context, Result};

use ticketlens::config::PipelineConfig;
use ticketlens::import::{self, ImportReport};
use ticketlens::store::Store;

pub async fn import(pipeline: &Path, data: &Path, json: bool) -> Result<()> {
    let config = PipelineConfig::load(pipeline)?;
    if !config.system.is_native() {
        bail!(
            "pipeline {} reads its tickets from another ticket system ([system] in its file): \
             import them there",
            config.name
        );
    }
    let rows = import::read_rows(data, &config.import)?;
    let store = Store::open(&config.store.url)
        .await
        .with_context(|| format!("cannot open the store of pipeline {}", config.name))?;
    let bar = ticketlens::progress::bar(rows.len() as u64, "importing tickets");
    let report = import::import(&store, rows, || bar.inc(1)).await?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(data, &report);
    }
    Ok(())
}

fn print_report(data: &Path, report: &ImportReport) {
    println!(
        "{}: {} imported, {} updated, {} unchanged, {} refused.",
        data.display(),
        report.imported,
        report.updated,
        report.unchanged,
        report.refused.len()
    );
    for refusal in &report.refused {
        println!("  line {}: {}", refusal.line, refusal.reason);
    }
    if !report.unknown_duplicates.is_empty() {
        let lines: Vec<String> = report
            .unknown_duplicates
            .iter()
            .map(u64::to_string)
            .collect();
        println!(
            "  `duplicate_of` names a ticket not imported before it, so no link was kept \
             (lines {}): put the earlier ticket first",
            lines.join(", ")
        );
    }
}
