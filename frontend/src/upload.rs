//! An upload of a CSV file on the imports page: the file chosen, where its upload stands, and
//! how that reads (the progress bar's share, the sentence under it).

use shared::proto::{ImportRowError, ImportStatus};

/// The file chosen, read, with the key of its upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub kind: String,
    pub name: String,
    pub bytes: Vec<u8>,
    pub key: String,
}

/// Where an upload stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Idle,
    Sending,
    /// Refused: every bad row (nothing was written).
    Refused(String, Vec<ImportRowError>),
    /// The shop is writing it, or wrote it.
    Running(ImportStatus),
    /// No answer, or an error a retry may fix: send the same upload again.
    Failed(String),
}

/// The bar's share done: rows acknowledged of the rows to write, and the last step (applied)
/// once done.
pub fn progress(status: &ImportStatus) -> (u64, u64) {
    let total = status.applied.max(1);
    match status.state.as_str() {
        "done" => (total, total),
        _ => (status.produced.min(total), total),
    }
}

fn rows(n: u64) -> String {
    if n == 1 {
        "1 row".to_owned()
    } else {
        format!("{n} rows")
    }
}

pub fn stage_text(status: &ImportStatus) -> String {
    match status.state.as_str() {
        "producing" => format!(
            "Writing rows to Kafka: {} of {}",
            status.produced, status.applied
        ),
        "applying" => format!(
            "All {} written; waiting for the shop to apply the last one",
            rows(status.applied)
        ),
        "done" if status.applied == 0 => format!(
            "Done: 0 rows applied, {} already imported: nothing to write.",
            status.already_imported
        ),
        "done" => format!(
            "Done: {} applied, {} already imported.",
            rows(status.applied),
            status.already_imported
        ),
        _ => format!("Failed: {}", status.error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_follows_the_rows_and_ends_when_applied() {
        let mut s = ImportStatus {
            rows: 5,
            applied: 4,
            already_imported: 1,
            produced: 1,
            state: "producing".into(),
            ..Default::default()
        };
        assert_eq!(progress(&s), (1, 4));
        assert_eq!(stage_text(&s), "Writing rows to Kafka: 1 of 4");
        s.produced = 4;
        s.state = "applying".into();
        assert_eq!(progress(&s), (4, 4));
        s.state = "done".into();
        assert_eq!(stage_text(&s), "Done: 4 rows applied, 1 already imported.");
        s.applied = 0;
        s.already_imported = 5;
        assert_eq!(
            progress(&s),
            (1, 1),
            "nothing to write is done, not divided by zero"
        );
        assert_eq!(
            stage_text(&s),
            "Done: 0 rows applied, 5 already imported: nothing to write."
        );
    }
}
