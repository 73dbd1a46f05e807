//! What the CLI prints: the API's JSON documents (field names and order as the cloud API has
//! them), the human tables and summaries, and errors with their exit codes.

use std::io::{self, Write};
use std::process::ExitCode;

use serde::Serialize;
use unicode_width::UnicodeWidthStr;
use zeroize::Zeroizing;

use super::{EXIT_USAGE, Failure};
use crate::error::{ApiError, ErrorCode};
use crate::rules::new_request_id;

/// `{"Data": ..., "RequestId": ...}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataDocument<T: Serialize> {
    pub data: T,
    pub request_id: String,
}

impl<T: Serialize> DataDocument<T> {
    pub fn new(data: T) -> Self {
        Self {
            data,
            request_id: new_request_id(),
        }
    }
}

/// DescribeKeyPairs: `{"NextToken", "Data", "TotalCount", "RequestId"}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PageDocument<T: Serialize> {
    pub next_token: String,
    pub data: T,
    pub total_count: usize,
    pub request_id: String,
}

/// `{"RequestId"}`, for operations that return nothing else.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestDocument {
    pub request_id: String,
}

impl RequestDocument {
    pub fn new() -> Self {
        Self {
            request_id: new_request_id(),
        }
    }
}

/// `{"RequestId", "Code", "Message"}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDocument<'a> {
    request_id: String,
    code: &'a str,
    message: &'a str,
}

/// Writes one JSON document and a newline to stdout. The text is built in zeroizing memory,
/// since a CreateKeyPair document holds a private key.
pub fn print_json<T: Serialize>(document: &T) -> Result<(), Failure> {
    let mut text = Zeroizing::new(Vec::with_capacity(8 * 1024));
    serde_json::to_writer(&mut *text, document).map_err(|error| {
        Failure::Api(ApiError::new(
            ErrorCode::InternalError,
            format!("output: cannot encode JSON: {error}"),
        ))
    })?;
    text.push(b'\n');
    write_stdout(&text)
}

/// Writes text to stdout and flushes it.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|error| {
            Failure::Api(ApiError::new(
                ErrorCode::InternalError,
                format!("output: cannot write to stdout: {error}"),
            ))
        })
}

/// Reports a failure as the contract says, and gives the exit code.
pub fn report_failure(json: bool, failure: Failure) -> ExitCode {
    match failure {
        Failure::Usage(message) => {
            eprintln!("adbkeys: {message}");
            ExitCode::from(EXIT_USAGE)
        }
        Failure::Api(error) => {
            let printed_json = json
                && print_json(&ErrorDocument {
                    request_id: new_request_id(),
                    code: error.code.as_str(),
                    message: &error.message,
                })
                .is_ok();
            if !printed_json {
                eprintln!("adbkeys: {}", error.message);
            }
            exit_code(error.code)
        }
    }
}

fn exit_code(code: ErrorCode) -> ExitCode {
    u8::try_from(code.exit_code()).map_or(ExitCode::FAILURE, ExitCode::from)
}

/// A table for people: a header row, columns padded by display width (CJK names are two
/// columns per character), two spaces between columns.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.width()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.width());
        }
    }

    let mut text = String::new();
    let header_row: Vec<String> = header.iter().map(|cell| (*cell).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[column] - cell.width() + 2));
            }
        }
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_by_display_width() {
        let rows = vec![
            vec!["kp-1".to_owned(), "测试".to_owned(), "x".to_owned()],
            vec!["kp-22".to_owned(), "ab".to_owned(), "y".to_owned()],
        ];
        let text = table(&["ID", "NAME", "CREATED"], &rows);
        assert_eq!(
            text,
            "ID     NAME  CREATED\nkp-1   测试  x\nkp-22  ab    y\n"
        );
    }
}
