//! Backfill from any help desk's export (`ticketlens import`): a CSV file or JSON lines, read
//! row by row through the column mapping of the pipeline's `[import]` section, each row checked
//! as `POST /v1/tickets` checks a ticket and written by its external id, so that importing the
//! same file twice changes nothing. A bad row is refused with its line number; the others go in.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::{ExternalTicket, ExternalTicketInput, Store, StoreError};

/// How to read an export (`[import]` in the pipeline file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportConfig {
    /// `csv` (with a header row) or `jsonl` (one JSON object a line). Default: from the
    /// file's extension (`.csv`; `.jsonl`, `.ndjson` or `.json`).
    pub format: Option<Format>,
    /// Which column of the export holds each of ticketlens' fields.
    pub columns: Columns,
}

/// The export formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
}

/// The export's column (CSV header, or JSON key) for each field; by default the field's own
/// name. Columns the export has beyond these are ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Columns {
    /// The ticket's id in the help desk (required in every row).
    pub external_id: String,
    /// The ticket's title.
    pub subject: String,
    /// The description the requester wrote.
    pub body: String,
    /// Who filed it.
    pub requester: String,
    /// `incident` or `request` (default `incident`).
    pub kind: String,
    /// `new`, `open`, `pending`, `resolved` or `closed` (default `new`).
    pub status: String,
    /// The category an agent set, if any.
    pub category: String,
    /// The urgency an agent set, if any.
    pub urgency: String,
    /// How it was solved (resolved tickets are what triage learns from).
    pub resolution: String,
    /// When it was opened: RFC 3339 or a date (default: the time of the import).
    pub created_at: String,
    /// The id of an earlier ticket of the export that this one reports the same thing as
    /// (a duplicate link): similar-ticket search learns from these links. The earlier ticket
    /// must come first in the file, or be in the store already.
    pub duplicate_of: String,
}

impl Default for Columns {
    fn default() -> Self {
        let [external_id, subject, body, requester, kind, status, category, urgency, resolution, created_at, duplicate_of] =
            FIELDS.map(str::to_owned);
        Self {
            external_id,
            subject,
            body,
            requester,
            kind,
            status,
            category,
            urgency,
            resolution,
            created_at,
            duplicate_of,
        }
    }
}

/// ticketlens' fields, in [`Columns`]' order.
const FIELDS: [&str; 11] = [
    "external_id",
    "subject",
    "body",
    "requester",
    "kind",
    "status",
    "category",
    "urgency",
    "resolution",
    "created_at",
    "duplicate_of",
];

impl Columns {
    /// Each field with the export's column for it, in [`FIELDS`]' order.
    fn pairs(&self) -> [(&'static str, &str); 11] {
        let columns = [
            &self.external_id,
            &self.subject,
            &self.body,
            &self.requester,
            &self.kind,
            &self.status,
            &self.category,
            &self.urgency,
            &self.resolution,
            &self.created_at,
            &self.duplicate_of,
        ];
        std::array::from_fn(|i| (FIELDS[i], columns[i].as_str()))
    }
}

/// A ticket from its fields' values, in [`FIELDS`]' order.
fn input_of(values: [Option<String>; 11]) -> ExternalTicketInput {
    let [external_id, subject, body, requester, kind, status, category, urgency, resolution, created_at, duplicate_of] =
        values;
    ExternalTicketInput {
        external_id,
        subject,
        body,
        requester,
        kind,
        status,
        category,
        urgency,
        resolution,
        created_at,
        duplicate_of,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot tell the format of {0} from its name: set `format = \"csv\"` or \
         `format = \"jsonl\"` in the pipeline's [import]"
    )]
    UnknownFormat(PathBuf),
    #[error("cannot read {path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error(
        "{path} has no column {column:?}, which [import.columns] names for `{field}`; \
         its columns are: {found}"
    )]
    MissingColumn {
        path: PathBuf,
        field: &'static str,
        column: String,
        found: String,
    },
    #[error("cannot write the tickets: {0}")]
    Store(#[from] StoreError),
}

/// One row of an export: where it starts, and its ticket or why it is refused.
#[derive(Debug)]
pub struct Row {
    pub line: u64,
    pub ticket: Result<ExternalTicket, String>,
}

/// A refused row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub line: u64,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub imported: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: Vec<Refusal>,
    /// Rows whose `duplicate_of` named a ticket neither the file (before them) nor the store
    /// has: imported, without the link.
    pub unknown_duplicates: Vec<u64>,
}

/// Every row of the export at `path`, in `config`'s format and mapping.
pub fn read_rows(path: &Path, config: &ImportConfig) -> Result<Vec<Row>, ImportError> {
    match config.format.or_else(|| guess_format(path)) {
        Some(Format::Csv) => read_csv(path, &config.columns),
        Some(Format::Jsonl) => read_jsonl(path, &config.columns),
        None => Err(ImportError::UnknownFormat(path.to_owned())),
    }
}

fn guess_format(path: &Path) -> Option<Format> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "csv" => Some(Format::Csv),
        "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
        _ => None,
    }
}

fn checked(line: u64, input: ExternalTicketInput) -> Row {
    Row {
        line,
        ticket: ExternalTicket::try_from(input).map_err(|e| e.to_string()),
    }
}

fn read_csv(path: &Path, columns: &Columns) -> Result<Vec<Row>, ImportError> {
    let csv_error = |source| ImportError::Csv {
        path: path.to_owned(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(csv_error)?;
    let header = reader.headers().map_err(csv_error)?.clone();
    let positions = column_positions(path, &header, columns)?;
    let mut rows = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                let values = positions.map(|at| at.and_then(|i| record.get(i)).map(str::to_owned));
                rows.push(checked(line, input_of(values)));
            }
            Err(e) if e.is_io_error() => return Err(csv_error(e)),
            // A row of the wrong width or bad bytes is that row's fault, not the file's.
            Err(e) => rows.push(Row {
                line: e.position().map_or(0, |p| p.line()),
                ticket: Err(csv_row_problem(&e)),
            }),
        }
    }
    Ok(rows)
}

fn csv_row_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".into(),
        _ => e.to_string(),
    }
}

/// Where each field's column is in `header`. A column the mapping names that the file lacks
/// is an error (a typo would otherwise import nothing into that field); a field left at its
/// default name may be absent.
fn column_positions(
    path: &Path,
    header: &csv::StringRecord,
    columns: &Columns,
) -> Result<[Option<usize>; 11], ImportError> {
    let mut positions = [None; 11];
    for (i, (field, column)) in columns.pairs().into_iter().enumerate() {
        positions[i] = header.iter().position(|h| h.trim() == column.trim());
        let required = field == "external_id" || field != column;
        if positions[i].is_none() && required {
            return Err(ImportError::MissingColumn {
                path: path.to_owned(),
                field,
                column: column.to_owned(),
                found: header.iter().collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(positions)
}

fn read_jsonl(path: &Path, columns: &Columns) -> Result<Vec<Row>, ImportError> {
    let read_error = |source| ImportError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut rows = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_number = index as u64 + 1;
        let text = match line {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                rows.push(Row {
                    line: line_number,
                    ticket: Err("is not valid UTF-8".into()),
                });
                continue;
            }
            Err(e) => return Err(read_error(e)),
        };
        if text.trim().is_empty() {
            continue;
        }
        rows.push(match json_input(&text, columns) {
            Ok(input) => checked(line_number, input),
            Err(reason) => Row {
                line: line_number,
                ticket: Err(reason),
            },
        });
    }
    Ok(rows)
}

/// A JSON line's ticket. Numbers and booleans are taken as their text (help desks number
/// their tickets); objects and arrays are no field's value.
fn json_input(text: &str, columns: &Columns) -> Result<ExternalTicketInput, String> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("is not a JSON object: {e}"))?;
    let mut values: [Option<String>; 11] = Default::default();
    for (value, (field, column)) in values.iter_mut().zip(columns.pairs()) {
        *value = match object.get(column) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::Bool(b)) => Some(b.to_string()),
            Some(_) => return Err(format!("`{field}` ({column:?}) is not text")),
        };
    }
    Ok(input_of(values))
}

/// Writes `rows` to `store` by external id, calling `step` after each.
pub async fn import(
    store: &Store,
    rows: Vec<Row>,
    mut step: impl FnMut(),
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    for row in rows {
        match row.ticket {
            Ok(ticket) => {
                let done = store.upsert_external(&ticket).await?;
                if done.unknown_duplicate {
                    report.unknown_duplicates.push(row.line);
                }
                match (done.created, done.changed) {
                    (true, _) => report.imported += 1,
                    (false, true) => report.updated += 1,
                    (false, false) => report.unchanged += 1,
                }
            }
            Err(reason) => report.refused.push(Refusal {
                line: row.line,
                reason,
            }),
        }
        step();
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn csv_rows_are_read_through_the_mapping_with_their_line_numbers() {
        let (_dir, path) = write(
            "export.csv",
            "Ticket ID,Short description,Type\n7,\"Printer\njammed\",Incident\n8,x\n9,VPN,bogus\n",
        );
        let config = ImportConfig {
            format: None,
            columns: Columns {
                external_id: "Ticket ID".into(),
                subject: "Short description".into(),
                kind: "Type".into(),
                ..Columns::default()
            },
        };
        let rows = read_rows(&path, &config).unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4, 5]);
        let first = rows[0].ticket.as_ref().unwrap();
        assert_eq!(first.external_id, "7");
        assert_eq!(first.subject.as_deref(), Some("Printer\njammed"));
        assert!(rows[1].ticket.as_ref().unwrap_err().contains("2 fields"));
        assert!(rows[2].ticket.as_ref().unwrap_err().contains("`kind`"));
    }

    #[test]
    fn a_mapped_column_the_file_lacks_is_named() {
        let (_dir, path) = write("export.csv", "id,subject\n1,a\n");
        let config = ImportConfig {
            format: Some(Format::Csv),
            columns: Columns {
                external_id: "Ticket ID".into(),
                ..Columns::default()
            },
        };
        let e = read_rows(&path, &config).unwrap_err().to_string();
        assert!(
            e.contains("\"Ticket ID\"") && e.contains("id, subject"),
            "{e}"
        );
    }

    #[test]
    fn json_lines_take_numbers_as_ids_and_refuse_what_is_not_an_object() {
        let (_dir, path) = write(
            "export.data",
            "{\"external_id\": 12, \"subject\": \"Mail down\"}\n\nnot json\n{\"subject\": \"x\"}\n",
        );
        let config = ImportConfig {
            format: Some(Format::Jsonl),
            ..ImportConfig::default()
        };
        let rows = read_rows(&path, &config).unwrap();
        assert_eq!(rows[0].ticket.as_ref().unwrap().external_id, "12");
        assert_eq!(rows[1].line, 3);
        assert!(rows[1].ticket.is_err());
        assert_eq!(rows[2].line, 4);
        assert!(rows[2].ticket.as_ref().unwrap_err().contains("external_id"));
        let unknown = read_rows(&path, &ImportConfig::default()).unwrap_err();
        assert!(matches!(unknown, ImportError::UnknownFormat(_)));
    }
}
