//! Loading CSV fixtures and rendering the data errors they give, as the error snapshots show them.

use std::path::Path;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use netc::data::{self, DataError, Splits};
use netc::model::{CsvSource, DataSource, Loss};

/// The shuffle seed every CSV fixture is loaded with, so splits are the same in every test.
const SEED: u64 = 7;

/// Renders a data error as the user sees it, without colour and at a fixed width so that
/// snapshots are stable.
pub fn render(error: &DataError) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, error as &dyn Diagnostic)
        .expect("rendering to a String cannot fail");
    out
}

/// Loads `source`, whose paths are relative to the `fixtures` folder.
pub fn load_csv(source: CsvSource, fixtures: &str, loss: Loss) -> Result<Splits, DataError> {
    data::load(&DataSource::Csv(source), Path::new(fixtures), SEED, loss)
}

/// Loads `source` from the `fixtures` folder and returns the rendered error it must give.
pub fn load_csv_error(source: CsvSource, fixtures: &str, loss: Loss) -> String {
    let path = source.path.clone();
    match load_csv(source, fixtures, loss) {
        Ok(splits) => panic!(
            "{path}: expected an error, got {} training rows",
            splits.train.len()
        ),
        Err(error) => render(&error),
    }
}
